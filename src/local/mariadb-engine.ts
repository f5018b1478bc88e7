import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import type { Connection as MysqlConnection, RowDataPacket } from 'mysql2/promise';
import { findMariadb, type MariadbBinaries } from './binaries.js';
import { holdsMore, reached } from '../engines/position-order.js';
import { connectMariadb, isDriverMissing } from './drivers.js';
import type { EngineDriver, EngineNodeStatus } from './engine.js';
import { run } from './processes.js';
import type { ClusterState, NodeState } from './state.js';
import { ensureTemplate, shortHash } from './templates.js';

const TEMPLATE_REVISION = '1';
/** InnoDB sizing used at install time and at runtime: a 4M redo log keeps a data dir near 21 MB. */
const INNODB = ['--innodb-log-file-size=4M', '--innodb-buffer-pool-size=32M'];

/**
 * The application's account on local MariaDB clusters: no SUPER / READ ONLY ADMIN, so `read_only`
 * on replicas refuses its writes (errno 1290). Exported as `MARIADB_APP_USER`.
 *
 * @example
 *   mysql.createConnection({ host: '127.0.0.1', port, ...MARIADB_APP_USER });
 */
export const APP_USER = {
  /** The user name, `app`. */
  user: 'app',
  /** Its password, `app` (a local development cluster's only). */
  password: 'app',
  /** The database it owns, `app`. */
  database: 'app',
} as const;
const REPLICATION_USER = { user: 'repl', password: 'repl' } as const;
/**
 * The health monitor's account on local MariaDB clusters: `SLAVE MONITOR` (`REPLICATION CLIENT`
 * before 10.5.9) and nothing else, so the monitor sees the replication threads that the
 * application's user may not. Exported as `MARIADB_MONITOR_USER`.
 *
 * @example
 *   watchCluster(cluster, { monitor: MARIADB_MONITOR_USER });
 */
export const MONITOR_USER = {
  /** The user name, `monitor`. */
  user: 'monitor',
  /** Its password, `monitor` (a local development cluster's only). */
  password: 'monitor',
} as const;

/** How long `promote` waits for the relay log already received to be applied. */
const PROMOTE_APPLY_BOUND_MILLIS = 10_000;
/** How long a former primary gets to show it can follow its new primary before it is rebuilt. */
const REJOIN_BOUND_MILLIS = 10_000;

interface ReplicaStatusRow extends RowDataPacket {
  Relay_Log_File: string;
  Relay_Log_Pos: number;
  Last_IO_Errno: number;
  Last_SQL_Errno: number;
  Slave_IO_Running: string;
  Slave_SQL_Running: string;
  Seconds_Behind_Master: number | null;
  Gtid_IO_Pos: string;
  SQL_Delay: number;
}

/** MariaDB GTID replication: replicas cloned from a cached `mariadb-install-db` template. */
export class MariadbEngine implements EngineDriver {
  readonly engine = 'mariadb' as const;
  #binDir: string | undefined;
  #binaries: MariadbBinaries | undefined;

  constructor(options: { binDir?: string | undefined } = {}) {
    this.#binDir = options.binDir;
  }

  async #resolve(state?: ClusterState): Promise<MariadbBinaries> {
    this.#binaries ??= await findMariadb({ binDir: this.#binDir ?? state?.binDir });
    return this.#binaries;
  }

  async findBinaries(): Promise<{ binDir: string; version: string }> {
    const found = await this.#resolve();
    return { binDir: found.binDir, version: found.version };
  }

  async template(state: ClusterState): Promise<string> {
    const bins = await this.#resolve(state);
    const key = `mariadb-${bins.version}-${shortHash(bins.mariadbd, TEMPLATE_REVISION, String(state.osUser.uid))}`;
    return ensureTemplate(key, state.osUser, async (dir) => {
      // root@localhost authenticates by unix socket: our admin connection as OS root, no password.
      await run(
        bins.installDb,
        ['--no-defaults', `--datadir=${dir}`, '--auth-root-authentication-method=socket', '--skip-test-db', '--skip-name-resolve', ...INNODB],
        { user: state.osUser, cwd: dir },
      );
    });
  }

  async configureNode(): Promise<void> {}

  #socket(state: ClusterState, node: NodeState): string {
    return path.join(state.socketDir, `${node.alias}.sock`);
  }

  command(state: ClusterState, node: NodeState): { command: string; args: string[] } {
    // Tuned for a throw-away local cluster, not for production: no binlog sync, no doublewrite,
    // log flushed (not fsynced) at commit, which still survives a kill -9 of the server.
    return {
      command: path.join(state.binDir, 'mariadbd'),
      args: [
        '--no-defaults', // must come first
        `--log-basename=${node.alias}`, // must precede the other log options
        `--datadir=${node.dataDir}`,
        `--socket=${this.#socket(state, node)}`,
        `--port=${node.port}`,
        '--bind-address=127.0.0.1',
        '--skip-name-resolve',
        `--pid-file=${path.join(state.dataRoot, `${node.alias}.pid`)}`,
        `--tmpdir=${state.dataRoot}`,
        `--server-id=${node.serverId}`,
        '--log-bin',
        '--binlog-format=ROW',
        '--log-slave-updates=1',
        '--gtid-strict-mode=1',
        `--read-only=${node.role === 'replica' ? 1 : 0}`,
        '--skip-slave-start',
        '--sync-binlog=0',
        '--innodb-flush-log-at-trx-commit=2',
        '--innodb-doublewrite=0',
        ...INNODB,
        '--max-connections=100',
        '--performance-schema=0',
        ...Object.entries(state.settings).map(([k, v]) => `--${k}=${v}`),
      ],
    };
  }

  stopSignal(mode: 'crash' | 'clean'): NodeJS.Signals {
    return mode === 'crash' ? 'SIGKILL' : 'SIGTERM';
  }

  async #with<T>(state: ClusterState, node: NodeState, use: (c: MysqlConnection) => Promise<T>): Promise<T> {
    // The admin is root over the unix socket (unix_socket auth matches our OS user).
    const user = userInfo().uid === 0 ? 'root' : userInfo().username;
    const connection = await connectMariadb({ socketPath: this.#socket(state, node), user });
    try {
      return await use(connection);
    } finally {
      await connection.end().catch(() => {});
    }
  }

  async #replicaStatus(c: MysqlConnection): Promise<ReplicaStatusRow | undefined> {
    const [rows] = await c.query<ReplicaStatusRow[]>('SHOW SLAVE STATUS');
    return rows[0];
  }

  async isReady(state: ClusterState, node: NodeState): Promise<boolean> {
    try {
      return await this.#with(state, node, async (c) => {
        await c.query('SELECT 1');
        return true;
      });
    } catch (e) {
      if (isDriverMissing(e)) throw e;
      return false;
    }
  }

  async initialize(state: ClusterState): Promise<void> {
    const primary = state.nodes.find((n) => n.role === 'primary');
    if (!primary) return;
    // Created on the primary and replicated, so the first catch-up proves replication end to end.
    await this.#with(state, primary, async (c) => {
      await c.query(`CREATE USER '${REPLICATION_USER.user}'@'127.0.0.1' IDENTIFIED BY '${REPLICATION_USER.password}'`);
      await c.query(`GRANT REPLICATION SLAVE ON *.* TO '${REPLICATION_USER.user}'@'127.0.0.1'`);
      await c.query(`CREATE USER '${APP_USER.user}'@'%' IDENTIFIED BY '${APP_USER.password}'`);
      await c.query(`CREATE DATABASE IF NOT EXISTS \`${APP_USER.database}\``);
      await c.query(
        `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, CREATE TEMPORARY TABLES, LOCK TABLES, ` +
          `EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, TRIGGER ON \`${APP_USER.database}\`.* TO '${APP_USER.user}'@'%'`,
      );
      await c.query(`CREATE USER '${MONITOR_USER.user}'@'%' IDENTIFIED BY '${MONITOR_USER.password}'`);
      // SLAVE MONITOR since 10.5.9; older servers know only REPLICATION CLIENT (ER_PARSE_ERROR / unknown privilege).
      await c.query(`GRANT SLAVE MONITOR ON *.* TO '${MONITOR_USER.user}'@'%'`).catch(() =>
        c.query(`GRANT REPLICATION CLIENT ON *.* TO '${MONITOR_USER.user}'@'%'`));
    });
    await Promise.all(state.nodes.filter((n) => n.role === 'replica').map((n) => this.follow(state, n, primary)));
  }

  url(_state: ClusterState, node: NodeState): string {
    return `mysql://${APP_USER.user}:${APP_USER.password}@127.0.0.1:${node.port}/${APP_USER.database}`;
  }

  async primaryPosition(state: ClusterState, primary: NodeState): Promise<string> {
    return this.#with(state, primary, async (c) => {
      const [rows] = await c.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS pos');
      return String(rows[0]?.pos ?? '');
    });
  }

  async waitForReplay(state: ClusterState, node: NodeState, position: string, timeoutMillis: number, signal?: AbortSignal): Promise<boolean> {
    return this.#with(state, node, async (c) => {
      const deadline = Date.now() + timeoutMillis;
      for (;;) {
        signal?.throwIfAborted();
        // MASTER_GTID_WAIT blocks server-side until applied; slices of at most 1 s keep aborts responsive.
        const seconds = Math.max(0, Math.min(1000, deadline - Date.now())) / 1000;
        const [rows] = await c.query<RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, ?) AS r', [position, seconds]);
        if (Number(rows[0]?.r) === 0) return true;
        if (Date.now() >= deadline) return false;
      }
    });
  }

  async isReplicating(state: ClusterState, node: NodeState): Promise<boolean> {
    return this.#with(state, node, async (c) => (await this.#replicaStatus(c))?.Slave_IO_Running === 'Yes');
  }

  async pause(state: ClusterState, node: NodeState): Promise<void> {
    await this.#with(state, node, (c) => c.query('STOP SLAVE SQL_THREAD'));
  }

  async resume(state: ClusterState, node: NodeState): Promise<void> {
    await this.#with(state, node, (c) => c.query('START SLAVE SQL_THREAD'));
  }

  async setDelay(state: ClusterState, node: NodeState, delayMillis: number): Promise<void> {
    await this.#with(state, node, async (c) => {
      await c.query('STOP SLAVE');
      await c.query(`CHANGE MASTER TO MASTER_DELAY = ${Math.ceil(delayMillis / 1000)}`);
      await c.query(node.paused ? 'START SLAVE IO_THREAD' : 'START SLAVE');
    });
  }

  async promote(state: ClusterState, node: NodeState): Promise<void> {
    await this.#with(state, node, async (c) => {
      // Apply what was received first, as PostgreSQL replays received WAL before it ends recovery:
      // RESET SLAVE ALL would drop the relay log. Nothing more is taken from the primary being
      // replaced. In GTID mode a SQL thread started while both threads are stopped discards the
      // relay log and starts over from gtid_slave_pos, so the SQL thread is pointed at its own
      // relay log coordinates (MASTER_USE_GTID = no keeps them), without delay, and waited for.
      await c.query('STOP SLAVE');
      const status = await this.#replicaStatus(c);
      const received = status?.Gtid_IO_Pos ?? '';
      const [applied] = await c.query<RowDataPacket[]>('SELECT @@gtid_slave_pos AS pos');
      if (status && received !== '' && !reached('mariadb', String(applied[0]?.pos ?? ''), received)) {
        await c.query(
          `CHANGE MASTER TO MASTER_USE_GTID = no, MASTER_DELAY = 0, RELAY_LOG_FILE = '${status.Relay_Log_File.replaceAll("'", '')}', RELAY_LOG_POS = ${Number(status.Relay_Log_Pos)}`,
        );
        await c.query('START SLAVE SQL_THREAD');
        await c.query('SELECT MASTER_GTID_WAIT(?, ?)', [received, PROMOTE_APPLY_BOUND_MILLIS / 1000]);
        await c.query('STOP SLAVE');
      }
      await c.query('RESET SLAVE ALL');
      await c.query('SET GLOBAL read_only = 0');
    });
  }

  async follow(state: ClusterState, node: NodeState, primary: NodeState): Promise<void> {
    await this.#with(state, node, async (c) => {
      await c.query('STOP SLAVE');
      await c.query('SET GLOBAL read_only = 1');
      await c.query(
        `CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${primary.port}, ` +
          `MASTER_USER = '${REPLICATION_USER.user}', MASTER_PASSWORD = '${REPLICATION_USER.password}', ` +
          `MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1`,
      );
      await c.query(node.paused ? 'START SLAVE IO_THREAD' : 'START SLAVE');
    });
  }

  async prepareStart(): Promise<void> {}

  async afterStart(state: ClusterState, node: NodeState, primary: NodeState | null): Promise<void> {
    if (node.role !== 'replica' || !primary) return;
    if (node.mustRejoin) {
      // A former primary's own transactions are in its binlog, not in its replica position (@@gtid_slave_pos).
      await this.#with(state, node, (c) => c.query('SET GLOBAL gtid_slave_pos = @@gtid_binlog_pos'));
    }
    await this.follow(state, node, primary);
  }

  /**
   * After a former primary was pointed at its new primary: whether its history split from the new
   * primary's (it holds transactions the new primary lacks), so it cannot follow and must be rebuilt.
   * Told by positions when they show it, else by the replication threads: error 1236 (the primary
   * does not have the history the replica asks for) or a failing SQL thread, before it catches up.
   */
  async mustRebuild(state: ClusterState, node: NodeState, primary: NodeState): Promise<boolean> {
    const target = await this.primaryPosition(state, primary);
    return this.#with(state, node, async (c) => {
      const [own] = await c.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS binlog, @@gtid_slave_pos AS applied');
      if (holdsMore('mariadb', String(own[0]?.binlog ?? ''), target)) return true;
      const deadline = Date.now() + REJOIN_BOUND_MILLIS;
      for (;;) {
        const s = await this.#replicaStatus(c);
        if (s && (Number(s.Last_IO_Errno) === 1236 || Number(s.Last_SQL_Errno) !== 0)) return true;
        const [now] = await c.query<RowDataPacket[]>('SELECT @@gtid_slave_pos AS pos');
        if (reached('mariadb', String(now[0]?.pos ?? ''), target)) return false;
        if (Date.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 50));
      }
    });
  }

  /**
   * Fills a freshly templated, running node with a copy of `primary` (mariadb-dump of every
   * database, consistent with the GTID position it records, loaded without binlogging so the copy
   * adds no transaction of its own), then follows it from that position.
   */
  async rebuild(state: ClusterState, node: NodeState, primary: NodeState): Promise<void> {
    const admin = userInfo().uid === 0 ? 'root' : userInfo().username;
    const dump = await run(clientTool(state, 'mariadb-dump'), [
      `--socket=${this.#socket(state, primary)}`, `--user=${admin}`, '--all-databases', '--single-transaction', '--gtid', '--master-data=2',
      '--routines', '--events', '--triggers',
    ]);
    const gtid = /SET GLOBAL gtid_slave_pos\s*=\s*'([^']*)'/.exec(dump)?.[1];
    if (gtid === undefined) throw new Error(`mariadb-dump of ${primary.alias} recorded no GTID position`);
    await run(clientTool(state, 'mariadb'), [`--socket=${this.#socket(state, node)}`, `--user=${admin}`, '--init-command=SET sql_log_bin = 0'], { input: dump });
    await this.#with(state, node, async (c) => {
      await c.query('FLUSH PRIVILEGES');
      await c.query('RESET MASTER');
      await c.query('SET GLOBAL gtid_slave_pos = ?', [gtid]);
    });
    await this.follow(state, node, primary);
  }

  async status(state: ClusterState, node: NodeState): Promise<EngineNodeStatus> {
    return this.#with(state, node, async (c) => {
      if (node.role === 'primary') {
        const [rows] = await c.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS pos');
        return { position: String(rows[0]?.pos ?? ''), replicating: false, paused: false, lagBytes: null, lagMillis: 0 };
      }
      const [rows] = await c.query<RowDataPacket[]>('SELECT @@gtid_slave_pos AS pos');
      const s = await this.#replicaStatus(c);
      const behind = s?.Seconds_Behind_Master;
      return {
        position: String(rows[0]?.pos ?? ''),
        replicating: s?.Slave_IO_Running === 'Yes',
        paused: s !== undefined && s.Slave_SQL_Running !== 'Yes',
        lagBytes: null,
        // NULL while the SQL thread is stopped: unknown, not "no lag".
        lagMillis: behind === null || behind === undefined ? null : Number(behind) * 1000,
      };
    });
  }
}

/** A MariaDB client program (`mariadb`, `mariadb-dump`): next to the server, or in the usual bin directories. */
function clientTool(state: ClusterState, name: string): string {
  const candidates = [path.join(state.binDir, name), path.join(path.dirname(state.binDir), 'bin', name), `/usr/bin/${name}`, `/usr/local/bin/${name}`];
  return candidates.find((file) => existsSync(file)) ?? name;
}
