import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client as PgClient } from 'pg';
import { DbRouterError } from '../errors.js';
import { findPostgres, type PostgresBinaries } from './binaries.js';
import { connectPostgres, isDriverMissing } from './drivers.js';
import type { EngineDriver, EngineNodeStatus } from './engine.js';
import { giveTo } from './os-user.js';
import { run } from './processes.js';
import type { ClusterState, NodeState } from './state.js';
import { ensureTemplate, shortHash } from './templates.js';
import type { PostgresSource } from './types.js';
import { pollUntil } from './wait.js';

/** Bump when the template's settings change, so machines rebuild their cached template. */
const TEMPLATE_REVISION = '1';

// Tuned for a throw-away local cluster, NOT for production: fsync is off (a machine crash loses
// data), buffers are small. synchronous_commit stays on: with it off, replicas saw commits only
// after ~200 ms (outliers of seconds). full_page_writes and wal_log_hints stay on for pg_rewind.
const TEMPLATE_SETTINGS = `
# ---- dbrouter local cluster (not for production) ----
listen_addresses = '127.0.0.1'
max_connections = 100
shared_buffers = 16MB
fsync = off
synchronous_commit = on
full_page_writes = on
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 64MB
wal_log_hints = on
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = 1s
wal_retrieve_retry_interval = 100ms
max_standby_streaming_delay = -1
logging_collector = off
log_line_prefix = '%m [%p] %q%a '
checkpoint_timeout = 30min
max_wal_size = 256MB
min_wal_size = 2MB
`;

function quote(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Parses an LSN such as `0/3000148` into a byte offset. */
export function lsnToBigInt(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high ?? '0'}`) << 32n) + BigInt(`0x${low ?? '0'}`);
}

/**
 * Rewrites settings in `postgresql.auto.conf` of a stopped node (a `null` value removes one). The
 * file, not an included one, because ALTER SYSTEM writes there and it is read last.
 */
async function setAutoConf(dataDir: string, entries: Record<string, string | null>): Promise<void> {
  const file = path.join(dataDir, 'postgresql.auto.conf');
  const text = existsSync(file) ? await readFile(file, 'utf8') : '';
  const keys = new Set(Object.keys(entries));
  const kept = text.split('\n').filter((line) => {
    const key = /^\s*([a-z_]+)\s*=/.exec(line)?.[1];
    return key === undefined || !keys.has(key);
  });
  const added = Object.entries(entries)
    .filter((entry): entry is [string, string] => entry[1] !== null)
    .map(([key, value]) => `${key} = ${quote(value)}`);
  await writeFile(file, `${[...kept.filter((l) => l.trim() !== ''), ...added].join('\n')}\n`);
}

/** PostgreSQL streaming replication: hot standbys cloned from a never-started template. */
export class PostgresEngine implements EngineDriver {
  readonly engine = 'postgres' as const;
  #binDir: string | undefined;
  #source: PostgresSource | undefined;
  #binaries: PostgresBinaries | undefined;

  constructor(options: { binDir?: string | undefined; source?: PostgresSource | undefined } = {}) {
    this.#binDir = options.binDir;
    this.#source = options.source;
  }

  async #resolve(state?: ClusterState): Promise<PostgresBinaries> {
    this.#binaries ??= await findPostgres({ binDir: this.#binDir ?? state?.binDir, source: this.#source });
    return this.#binaries;
  }

  async findBinaries(): Promise<{ binDir: string; version: string }> {
    const found = await this.#resolve();
    return { binDir: found.binDir, version: found.version };
  }

  async template(state: ClusterState): Promise<string> {
    const bins = await this.#resolve(state);
    const key = `postgres-${bins.version}-${shortHash(bins.binDir, TEMPLATE_REVISION, String(state.osUser.uid))}`;
    return ensureTemplate(key, state.osUser, async (dir) => {
      await run(
        bins.initdb,
        ['-D', dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions', '--wal-segsize=1'],
        { user: state.osUser },
      );
      await appendFile(path.join(dir, 'postgresql.conf'), TEMPLATE_SETTINGS);
    });
  }

  #conninfo(state: ClusterState, node: NodeState, primary: NodeState): string {
    return `host=${state.socketDir} port=${primary.port} user=postgres application_name=${node.alias}`;
  }

  #nodeSettings(state: ClusterState, node: NodeState, primary: NodeState | null): Record<string, string | null> {
    return {
      ...state.settings,
      port: String(node.port),
      unix_socket_directories: state.socketDir,
      cluster_name: node.alias,
      primary_conninfo: node.role === 'replica' && primary ? this.#conninfo(state, node, primary) : null,
    };
  }

  async configureNode(state: ClusterState, node: NodeState, primary: NodeState): Promise<void> {
    await setAutoConf(node.dataDir, this.#nodeSettings(state, node, primary));
    if (node.role === 'replica') await this.#touchStandbySignal(state, node);
  }

  async #touchStandbySignal(state: ClusterState, node: NodeState): Promise<void> {
    const signal = path.join(node.dataDir, 'standby.signal');
    await writeFile(signal, '');
    await giveTo(signal, state.osUser);
  }

  command(state: ClusterState, node: NodeState): { command: string; args: string[] } {
    return { command: path.join(state.binDir, 'postgres'), args: ['-D', node.dataDir] };
  }

  stopSignal(mode: 'crash' | 'clean'): NodeJS.Signals {
    // SIGQUIT = immediate shutdown (crash recovery on restart); SIGKILL on the postmaster would orphan its children.
    return mode === 'crash' ? 'SIGQUIT' : 'SIGINT';
  }

  async #with<T>(state: ClusterState, node: NodeState, use: (client: PgClient) => Promise<T>): Promise<T> {
    const client = await connectPostgres({ host: state.socketDir, port: node.port });
    try {
      return await use(client);
    } finally {
      await client.end().catch(() => {});
    }
  }

  async isReady(state: ClusterState, node: NodeState): Promise<boolean> {
    try {
      return await this.#with(state, node, async (c) => (await c.query('SELECT 1')).rowCount === 1);
    } catch (e) {
      if (isDriverMissing(e)) throw e;
      return false;
    }
  }

  async initialize(): Promise<void> {}

  url(_state: ClusterState, node: NodeState): string {
    return `postgres://postgres@127.0.0.1:${node.port}/postgres`;
  }

  async primaryPosition(state: ClusterState, primary: NodeState): Promise<string> {
    return this.#with(state, primary, async (c) => {
      const { rows } = await c.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      return rows[0]?.lsn ?? '0/0';
    });
  }

  async waitForReplay(state: ClusterState, node: NodeState, position: string, timeoutMillis: number, signal?: AbortSignal): Promise<boolean> {
    return this.#with(state, node, (c) =>
      pollUntil(
        async () => {
          const { rows } = await c.query<{ ok: boolean | null }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [position]);
          return rows[0]?.ok === true;
        },
        { timeoutMillis, intervalMillis: 2, signal },
      ),
    );
  }

  async isReplicating(state: ClusterState, node: NodeState): Promise<boolean> {
    return this.#with(state, node, async (c) => {
      const { rows } = await c.query<{ status: string }>('SELECT status FROM pg_stat_wal_receiver');
      return rows[0]?.status === 'streaming';
    });
  }

  async pause(state: ClusterState, node: NodeState): Promise<void> {
    await this.#with(state, node, async (c) => {
      await c.query('SELECT pg_wal_replay_pause()');
      // The request is asynchronous: replay stops at the startup process's next check.
      const paused = await pollUntil(
        async () => (await c.query<{ s: string }>('SELECT pg_get_wal_replay_pause_state() AS s')).rows[0]?.s === 'paused',
        { timeoutMillis: 10_000, intervalMillis: 2 },
      );
      if (!paused) throw new DbRouterError('NODE_DOWN', `${node.alias} did not pause replay within 10 s`);
    });
  }

  async resume(state: ClusterState, node: NodeState): Promise<void> {
    await this.#with(state, node, (c) => c.query('SELECT pg_wal_replay_resume()'));
  }

  async setDelay(state: ClusterState, node: NodeState, delayMillis: number): Promise<void> {
    await this.#with(state, node, async (c) => {
      await c.query(delayMillis > 0 ? `ALTER SYSTEM SET recovery_min_apply_delay = '${delayMillis}ms'` : 'ALTER SYSTEM RESET recovery_min_apply_delay');
      await c.query('SELECT pg_reload_conf()');
    });
  }

  async promote(state: ClusterState, node: NodeState): Promise<void> {
    await this.#with(state, node, async (c) => {
      // pg_promote(wait => true) and pg_ctl promote poll every 100 ms: poll ourselves instead.
      await c.query('SELECT pg_promote(wait => false)');
      const done = await pollUntil(
        async () => (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r === false,
        { timeoutMillis: 30_000, intervalMillis: 2 },
      );
      if (!done) throw new DbRouterError('NODE_DOWN', `${node.alias} did not finish promotion within 30 s: see ${node.logFile}`);
    });
  }

  async follow(state: ClusterState, node: NodeState, primary: NodeState): Promise<void> {
    // primary_conninfo is reloadable since PostgreSQL 13: no restart.
    await this.#with(state, node, async (c) => {
      await c.query(`ALTER SYSTEM SET primary_conninfo = ${quote(this.#conninfo(state, node, primary))}`);
      await c.query('SELECT pg_reload_conf()');
    });
  }

  async prepareStart(state: ClusterState, node: NodeState, primary: NodeState | null): Promise<void> {
    if (node.role === 'replica' && node.mustRejoin && primary) {
      const bins = await this.#resolve(state);
      let rewound = false;
      if (bins.pgRewind) {
        // A fresh promotion's pg_control still names the old timeline until its checkpoint: without
        // this, pg_rewind says "no rewind required" and the node then cannot follow.
        await this.#with(state, primary, (c) => c.query('CHECKPOINT'));
        rewound = await run(
          bins.pgRewind,
          ['-D', node.dataDir, `--source-server=host=${state.socketDir} port=${primary.port} user=postgres dbname=postgres`],
          { user: state.osUser, cwd: state.dataRoot },
        ).then(() => true, () => false);
      }
      // No pg_rewind, or it could not rewind (WAL it needs is gone, a damaged data dir): a former
      // primary that may hold WAL the new primary lacks is rebuilt as a fresh copy of it, as a
      // failover tool would, rather than left to fail following it.
      if (!rewound) await this.#baseBackup(state, node, primary, bins);
    }
    // pg_rewind copies the source's postgresql.auto.conf: re-apply this node's own settings.
    await setAutoConf(node.dataDir, this.#nodeSettings(state, node, primary));
    if (node.role === 'replica') await this.#touchStandbySignal(state, node);
  }

  async afterStart(): Promise<void> {}

  async #baseBackup(state: ClusterState, node: NodeState, primary: NodeState, bins: PostgresBinaries): Promise<void> {
    const tool = [path.join(bins.binDir, 'pg_basebackup'), ...(bins.pgRewind ? [path.join(path.dirname(bins.pgRewind), 'pg_basebackup')] : [])].find((f) => existsSync(f));
    if (!tool) throw new DbRouterError('BINARIES_MISSING', `cannot rebuild ${node.alias}: neither pg_rewind nor pg_basebackup is installed next to ${bins.binDir}`);
    await rm(node.dataDir, { recursive: true, force: true });
    await mkdir(node.dataDir, { mode: 0o700 });
    await giveTo(node.dataDir, state.osUser);
    await run(tool, ['-D', node.dataDir, '-d', `host=${state.socketDir} port=${primary.port} user=postgres`, '-X', 'stream', '--no-sync'], { user: state.osUser, cwd: state.dataRoot });
  }

  async status(state: ClusterState, node: NodeState, primaryPosition: string | null): Promise<EngineNodeStatus> {
    return this.#with(state, node, async (c) => {
      if (node.role === 'primary') {
        const { rows } = await c.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
        return { position: rows[0]?.lsn ?? null, replicating: false, paused: false, lagBytes: 0, lagMillis: 0 };
      }
      const { rows } = await c.query<{ replay: string | null; receiver: string | null; pause: string; lag_ms: number | null }>(
        `SELECT pg_last_wal_replay_lsn()::text AS replay,
                (SELECT status FROM pg_stat_wal_receiver) AS receiver,
                pg_get_wal_replay_pause_state() AS pause,
                CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                     ELSE (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::float8 END AS lag_ms`,
      );
      const row = rows[0];
      const replay = row?.replay ?? null;
      const lagBytes =
        replay && primaryPosition ? Number(lsnToBigInt(primaryPosition) > lsnToBigInt(replay) ? lsnToBigInt(primaryPosition) - lsnToBigInt(replay) : 0n) : null;
      return {
        position: replay,
        replicating: row?.receiver === 'streaming',
        paused: row?.pause !== 'not paused',
        lagBytes,
        lagMillis: lagBytes === 0 ? 0 : row?.lag_ms === null || row?.lag_ms === undefined ? null : Math.round(row.lag_ms),
      };
    });
  }
}
