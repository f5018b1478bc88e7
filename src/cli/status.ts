import path from 'node:path';
import type { Command } from 'commander';
import { createCluster } from '../cluster/cluster.js';
import { INTERNALS } from '../routing/contracts.js';
import { mariadbProber } from '../engines/mysql/probe.js';
import { postgresProber, type ProbeConnection } from '../engines/postgres/probe.js';
import { DbRouterError } from '../errors.js';
import { HealthMonitor, holdOpen, type HealthStatus } from '../health/monitor.js';
import type { Role } from '../engines/probe.js';
import { parseDurationMillis } from './cluster.js';
import { loadConfigFile } from './config-file.js';

/** One node as `dbrouter status` reports it. Never holds a password. */
export interface StatusNode {
  readonly alias: string;
  /** The URL with the password replaced by `***`. */
  readonly url: string;
  readonly configuredRole: Role | undefined;
  /** The role the server reports; `undefined` when it could not be reached. */
  readonly role: Role | undefined;
  readonly state: 'up' | 'lagging' | 'down';
  readonly lagMillis: number | undefined;
  /** WAL bytes (PostgreSQL) or transactions (MariaDB) not yet applied. */
  readonly lagPosition: number | undefined;
  readonly positionUnit: 'bytes' | 'transactions';
  readonly paused: boolean | undefined;
  readonly rttMillis: number | undefined;
  readonly error: string | undefined;
  readonly problems: readonly string[];
}

/** What `dbrouter status --json` prints. `healthy` false ⇔ exit code 1. */
export interface StatusReport {
  readonly engine: string;
  readonly file: string | undefined;
  readonly healthy: boolean;
  readonly primary: string | undefined;
  /** Why the cluster is degraded, one sentence each; empty when healthy. */
  readonly degraded: readonly string[];
  readonly maxLagMillis: number;
  readonly nodes: readonly StatusNode[];
}

interface StatusOptions {
  config?: string;
  json?: boolean;
  maxLag: string;
  timeout: string;
  color?: boolean;
}

/**
 * Checks every node of a configuration once, over its own connection (the health module's
 * probes): role, reachability, replication lag. Unreachable nodes are `down`, never an exception.
 *
 * @example
 *   const report = await checkCluster(config, { maxLagMillis: 10_000, timeoutMillis: 2000 });
 *   report.healthy // false when a node is down, a replica lags, or no node is primary
 */
export async function checkCluster(
  config: Parameters<typeof createCluster>[0],
  options: { maxLagMillis: number; timeoutMillis: number; file?: string | undefined },
): Promise<StatusReport> {
  let cluster;
  try {
    cluster = createCluster(config);
  } catch (e) {
    if (e instanceof DbRouterError && options.file !== undefined) throw new DbRouterError(e.code, `${path.basename(options.file)}: ${e.message}`, { cause: e });
    throw e;
  }
  const cx = cluster[INTERNALS];
  const configured = new Map(cluster.describe().map((d) => [d.alias, d]));
  const connections: Record<string, ProbeConnection> = Object.fromEntries(cx.nodes.map((n) => [n.alias, n.connection]));
  const passwords = cx.nodes.map((n) => n.connection.password).filter((p): p is string => typeof p === 'string' && p.length > 0);
  const proberOptions = { connections, connectTimeoutMillis: options.timeoutMillis, queryTimeoutMillis: options.timeoutMillis };
  const prober = cx.engine.name === 'postgres' ? postgresProber(proberOptions) : mariadbProber(proberOptions);
  const monitor = new HealthMonitor({
    nodes: cx.nodes.map((n) => ({
      alias: n.alias,
      // A node whose role is not configured is asked; the monitor follows whichever node says it is primary.
      configuredRole: configured.get(n.alias)?.role ?? 'replica',
      address: `${n.connection.host}:${n.connection.port}`,
    })),
    prober,
    failuresBeforeDown: 1,
    checkTimeoutMillis: options.timeoutMillis,
    checkIntervalMillis: RECHECK_MILLIS,
    maxReplicationLagMillis: options.maxLagMillis,
  });
  monitor.on('error', () => undefined);
  let st;
  let undated;
  let tookMillis;
  // The monitor's handles are unref'd (background checks never keep an app alive); this command
  // awaits them, so it holds the process open itself, or Node would exit mid-check (code 13).
  try {
    await holdOpen(monitor.start());
    ({ st, undated, tookMillis } = await holdOpen(settleLag(monitor, options.maxLagMillis)));
  } finally {
    await holdOpen(monitor.stop());
  }
  const scrub = (text: string | undefined): string | undefined =>
    text === undefined ? undefined : passwords.reduce((t, p) => t.split(p).join('***'), text);

  const degraded: string[] = [];
  const nodes: StatusNode[] = st.nodes.map((n) => {
    // Still lacking after the whole window what the primary had at the first look: at least that late.
    // Caught up while watched: it took that long to apply what the primary had at the first look.
    const took = tookMillis.get(n.alias);
    const lagMillis = undated.has(n.alias) && n.lagMillis !== undefined ? Math.max(n.lagMillis, options.maxLagMillis)
      : took !== undefined && n.lagMillis !== undefined ? Math.max(n.lagMillis, took) : n.lagMillis;
    const late = n.role === 'replica' && n.alias !== st.primary && (lagMillis === undefined || lagMillis > options.maxLagMillis || undated.has(n.alias));
    const state = n.state !== 'up' ? 'down' : late ? 'lagging' : 'up';
    if (state === 'down') degraded.push(`${n.alias} is down${n.lastError ? ` (${scrub(n.lastError)})` : ''}`);
    if (state === 'lagging') {
      degraded.push(lagMillis === undefined ? `${n.alias} lag is unknown (replay stopped?)` : `${n.alias} lags ${formatMillis(lagMillis)}${undated.has(n.alias) ? ' or more' : ''} (more than ${formatMillis(options.maxLagMillis)})`);
    }
    const notes = n.problems.map((p) => scrub(p.message) ?? '');
    if (configured.get(n.alias)?.role === 'replica' && n.role === 'primary') {
      notes.push(`Node "${n.alias}" is configured as a replica but reports being the primary (promoted?): give it role 'primary' in the configuration and make the former primary a replica.`);
    }
    for (const p of n.problems) {
      if (p.kind === 'diverged' || p.kind === 'replication-stopped') degraded.push(`${n.alias} ${p.kind === 'diverged' ? 'has diverged from the primary' : 'no longer replicates'}`);
    }
    return {
      alias: n.alias,
      url: configured.get(n.alias)?.url ?? '',
      configuredRole: configured.get(n.alias)?.role,
      role: n.role,
      state,
      lagMillis: lagMillis === undefined ? undefined : Math.round(lagMillis),
      lagPosition: n.lagPosition,
      positionUnit: n.positionUnit,
      paused: n.paused,
      rttMillis: n.rttMillis === undefined ? undefined : Math.round(n.rttMillis * 10) / 10,
      error: scrub(n.lastError),
      problems: notes,
    };
  });
  if (st.splitBrain) degraded.push(`split brain: ${st.splitBrain.join(' and ')} both say they are primary`);
  else if (!st.primaryAvailable) degraded.push('no primary: no reachable node says it is primary, so writes would fail');
  return {
    engine: cluster.engine,
    file: options.file,
    healthy: degraded.length === 0,
    primary: st.primaryAvailable ? st.primary : undefined,
    degraded,
    maxLagMillis: options.maxLagMillis,
    nodes,
  };
}

/** Time between checks while `status` watches a replica's gap get dated. */
const RECHECK_MILLIS = 100;

/**
 * One check says how far a replica is behind the primary's position, not since when: a gap that
 * predates the first look is dated only by the engine's estimate (PostgreSQL's time since the last
 * replayed commit is far too high on a quiet primary). So while a replica that replicates lacks
 * what the primary had at the first look, keep checking — until it has it (then its lag is dated
 * by the positions seen) or `maxLagMillis` has passed (then it is at least that late).
 */
async function settleLag(monitor: HealthMonitor, maxLagMillis: number): Promise<{ st: HealthStatus; undated: Set<string>; tookMillis: Map<string, number> }> {
  const started = Date.now();
  const undated = (st: HealthStatus): Set<string> =>
    new Set(st.nodes.filter((n) =>
      n.alias !== st.primary && n.state === 'up' && n.role === 'replica' && n.lagFrom === 'engine' && n.paused !== true &&
      !n.problems.some((p) => p.kind === 'diverged' || p.kind === 'replication-stopped')).map((n) => n.alias));
  let st = monitor.status();
  // When the primary's position was first read: a replica that reaches it later was at least that late.
  const firstLook = st.nodes.find((n) => n.alias === st.primary)?.lastCheckAt ?? started;
  const tookMillis = new Map<string, number>();
  // A replica counts as having lacked that position only if a check that began after it was read
  // (after the first round of checks, which ends here) still did.
  const lacked = new Set<string>();
  const note = (waiting: Set<string>) => {
    for (const n of st.nodes) if (waiting.has(n.alias) && (n.lastCheckAt ?? -Infinity) >= started) lacked.add(n.alias);
  };
  let waiting = undated(st);
  note(waiting);
  while (st.primaryAvailable && waiting.size > 0 && Date.now() - started < maxLagMillis) {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        monitor.off('check', done);
        resolve();
      };
      const timer = setTimeout(done, maxLagMillis - (Date.now() - started));
      monitor.on('check', done);
    });
    st = monitor.status();
    const still = undated(st);
    for (const alias of waiting) if (!still.has(alias) && lacked.has(alias)) tookMillis.set(alias, Date.now() - firstLook);
    waiting = still;
    note(waiting);
  }
  return { st, undated: st.primaryAvailable ? waiting : new Set(), tookMillis };
}

function formatMillis(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function describeLag(n: StatusNode): string {
  if (n.state === 'down' || n.role === 'primary') return '-';
  const parts = [n.lagMillis === undefined ? '?' : formatMillis(n.lagMillis)];
  if (n.lagPosition !== undefined && n.lagPosition > 0) parts.push(`${n.lagPosition} ${n.positionUnit === 'bytes' ? 'B' : 'tx'}`);
  if (n.paused) parts.push('paused');
  return parts.join(', ');
}

/** The report as a table; `color` adds ANSI colours to the state column and the verdict. */
export function formatStatus(report: StatusReport, color: boolean): string {
  const paint = (code: number, text: string): string => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const stateColor = { up: 32, lagging: 33, down: 31 } as const;
  const rows = report.nodes.map((n) => [
    n.alias,
    n.role ?? (n.configuredRole ? `${n.configuredRole}?` : '?'),
    n.state,
    describeLag(n),
    n.rttMillis === undefined ? '-' : `${n.rttMillis} ms`,
    n.url,
  ]);
  const header = ['ALIAS', 'ROLE', 'STATE', 'LAG', 'RTT', 'URL'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[], colorState: boolean): string =>
    cells
      .map((c, i) => {
        const padded = i === cells.length - 1 ? c : c.padEnd(widths[i]!);
        return colorState && i === 2 ? paint(stateColor[c as keyof typeof stateColor], padded) : padded;
      })
      .join('  ')
      .trimEnd();
  const out = [`${report.engine} cluster, ${report.nodes.length} nodes${report.file ? ` (${report.file})` : ''}`, line(header, false)];
  for (const r of rows) out.push(line(r, true));
  for (const n of report.nodes) {
    if (n.state === 'down' && n.error) out.push(`  ${n.alias}: ${n.error}`);
    for (const p of n.problems) out.push(`  note: ${p}`);
  }
  out.push(report.healthy ? paint(32, 'healthy') : paint(31, `degraded: ${report.degraded.join('; ')}`));
  return `${out.join('\n')}\n`;
}

/**
 * Registers `dbrouter status`: checks the cluster of the application's configuration once.
 * Exit code 0 healthy, 1 degraded (a node down, a replica lagging, no primary), 2 when the
 * configuration cannot be read — so it serves as a health check.
 *
 * @example
 *   dbrouter status                         # dbrouter.config.{js,mjs,cjs,ts,json} in the working directory
 *   dbrouter status --config deploy/dbrouter.config.json --json
 *   DBROUTER_DATABASES_DEFAULT_URL=postgres://app@db1/app dbrouter status
 */
export function register(program: Command): void {
  program
    .command('status')
    .description('check every database of the configuration once: role, health, replication lag (exit 1 when degraded)')
    .option('--config <file>', 'configuration file [default: dbrouter.config.{js,mjs,cjs,ts,json} in the working directory]')
    .option('--json', 'print one JSON object {engine, healthy, primary, degraded, nodes}')
    .option('--max-lag <duration>', 'a replica further behind than this is lagging (e.g. 10s, 500ms)', '10s')
    .option('--timeout <duration>', 'bound on each node\'s check, connecting included', '2s')
    .option('--no-color', 'no colours even on a terminal')
    .action(async function statusAction(opts: StatusOptions) {
      let report: StatusReport;
      try {
        const maxLagMillis = parseDurationMillis(opts.maxLag);
        const timeoutMillis = parseDurationMillis(opts.timeout);
        const loaded = await loadConfigFile({ ...(opts.config !== undefined ? { file: opts.config } : {}), cwd: process.cwd(), env: process.env });
        report = await checkCluster(loaded.config, { maxLagMillis, timeoutMillis: Math.max(1, timeoutMillis), file: loaded.file });
      } catch (e) {
        if (!(e instanceof DbRouterError)) throw e;
        process.stderr.write(`dbrouter status: ${e.message} [${e.code}]\n`);
        process.exitCode = 2;
        return;
      }
      const color = opts.color !== false && process.stdout.isTTY === true && !process.env.NO_COLOR;
      process.stdout.write(opts.json ? `${JSON.stringify(report, (_k, v: unknown) => (v === undefined ? null : v))}\n` : formatStatus(report, color));
      process.exitCode = report.healthy ? 0 : 1;
    });
}
