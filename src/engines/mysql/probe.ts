import type { Connection, ConnectionOptions, QueryError } from 'mysql2';
import { gtidDistance as distanceOf, holdsMore, reached } from '../position-order.js';
import { DbRouterError } from '../../errors.js';
import { loadDriver } from '../driver.js';
import type { MonitoredNode, NodeProbe, ProbeResult, Prober } from '../probe.js';
import type { ProbeConnection } from '../postgres/probe.js';
import { endWithin } from '../bounds.js';

/**
 * Options of the MariaDB prober.
 *
 * @example
 *   mariadbProber({ connections, monitor: { user: 'dbrouter_monitor', password } })
 */
export interface MariadbProberOptions {
  /** Connection of each node, by alias. */
  readonly connections: Readonly<Record<string, ProbeConnection>>;
  /**
   * Credentials for the monitoring connections instead of the application's. `SHOW SLAVE STATUS`
   * (IO/SQL thread state, `Seconds_Behind_Master`, the upstream) needs the `SLAVE MONITOR` privilege
   * (`REPLICATION CLIENT` before MariaDB 10.5.9), which an application user rarely has:
   * `CREATE USER dbrouter_monitor IDENTIFIED BY '...'; GRANT SLAVE MONITOR ON *.* TO dbrouter_monitor`.
   * Without it the monitor still works from `@@read_only` and GTID positions (see `ProbeResult.limited`).
   */
  readonly monitor?: { readonly user: string; readonly password?: string };
  /** Give up connecting after this long. Default 1000. */
  readonly connectTimeoutMillis?: number;
  /** Give up on each query after this long. Default 1000. */
  readonly queryTimeoutMillis?: number;
}

const VARIABLES_SQL = 'SELECT @@global.read_only AS ro, @@global.gtid_binlog_pos AS binlog_pos, @@global.gtid_slave_pos AS replica_pos';
/** MySQL: one GTID set for both, everything the server has applied. */
const MYSQL_VARIABLES_SQL = 'SELECT @@global.read_only AS ro, @@global.gtid_executed AS binlog_pos, @@global.gtid_executed AS replica_pos';
/** ER_UNKNOWN_SYSTEM_VARIABLE, ER_PARSE_ERROR. */
const UNKNOWN_VARIABLE = 1193;
const PARSE_ERROR = 1064;
/** ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_ERROR (no SLAVE MONITOR / REPLICATION CLIENT). */
const DENIED = new Set([1227, 1045]);

/** @internal */
export interface Variables { ro: number | string; binlog_pos: string | null; replica_pos: string | null }
/** @internal A replica status row in the server's own (MariaDB) column names; MySQL's Source/Replica names are mapped onto them. */
export interface ReplicaStatusRow {
  Slave_IO_Running?: string;
  Slave_SQL_Running?: string;
  Seconds_Behind_Master?: number | string | null;
  Master_Host?: string;
  Master_Port?: number | string;
  Gtid_IO_Pos?: string;
  Last_IO_Errno?: number | string;
  Last_IO_Error?: string;
  Last_SQL_Errno?: number | string;
  Last_SQL_Error?: string;
  Connection_name?: string;
}

/**
 * The MariaDB side of the health monitor: `@@read_only` and `SHOW SLAVE STATUS` for the role,
 * GTID positions (`@@gtid_binlog_pos` on the primary, `@@gtid_slave_pos` and `Gtid_IO_Pos` on a
 * replica), `Seconds_Behind_Master` for the time lag — NULL (SQL or IO thread stopped) is unknown
 * lag, never "no lag". MySQL servers are recognised (no `@@gtid_binlog_pos`) and read through
 * `@@gtid_executed` and `SHOW REPLICA STATUS` instead.
 *
 * @example
 *   const monitor = new HealthMonitor({ nodes, prober: mariadbProber({ connections }) })
 */
export function mariadbProber(options: MariadbProberOptions): Prober {
  // A missing driver is DRIVER_MISSING now, not a failed check that marks every node down.
  loadMysql();
  return {
    positionUnit: 'transactions',
    forNode(node: MonitoredNode): NodeProbe {
      const connection = options.connections[node.alias];
      if (!connection) throw new DbRouterError('UNKNOWN_ALIAS', `No connection is configured for node "${node.alias}".`);
      return new MariadbProbe(connection, options);
    },
    reached: gtidReached,
    distance: gtidDistance,
    holdsMore: (replica, primary) => holdsMore(kindOf(replica, primary), replica, primary),
  };
}

// MariaDB GTID positions (`0-1-42`) and MySQL GTID sets (`uuid:1-42`) are told apart by their form.
const isMysqlSet = (pos: string) => pos.includes(':');
const kindOf = (a: string, b: string): 'mysql' | 'mariadb' => (isMysqlSet(a) || isMysqlSet(b) ? 'mysql' : 'mariadb');

/** `reached` for either MariaDB GTID positions or MySQL GTID sets. */
export function gtidReached(have: string, want: string): boolean {
  return reached(kindOf(have, want), have, want);
}

/**
 * Transactions `have` lacks to reach `want`: per MariaDB replication domain the difference of
 * sequence numbers (strict GTID mode keeps them increasing per domain), for MySQL the GTIDs of
 * `want` missing from `have`. 0 when caught up, `undefined` when a position cannot be read.
 *
 * @example
 *   gtidDistance('0-1-40', '0-1-42,1-2-3') // 5
 */
export function gtidDistance(have: string, want: string): number | undefined {
  return distanceOf(kindOf(have, want), have, want);
}

/**
 * One node's dedicated monitoring connection (mysql2, never from the application's pool), opened on
 * the first check and again after any failure.
 */
export class MariadbProbe implements NodeProbe {
  readonly #config: ConnectionOptions;
  readonly #queryTimeout: number;
  #conn: Connection | undefined;
  #pending: Connection | undefined;
  #connecting: Promise<Connection> | undefined;
  #denied = false;
  #flavor: 'mariadb' | 'mysql' = 'mariadb';

  constructor(connection: ProbeConnection, options: Omit<MariadbProberOptions, 'connections'> = {}) {
    const config: ConnectionOptions = {
      host: connection.host,
      port: connection.port,
      user: options.monitor?.user ?? connection.user,
      connectTimeout: options.connectTimeoutMillis ?? 1000,
      // The monitor's own user needs no access to the application's database: it reads only globals.
      ...(options.monitor ? {} : connection.database !== undefined ? { database: connection.database } : {}),
      ...(connection.ssl !== undefined && connection.ssl !== false ? { ssl: connection.ssl === true ? {} : connection.ssl } : {}),
    };
    const password = options.monitor ? options.monitor.password : connection.password;
    if (password !== undefined) Object.defineProperty(config, 'password', { value: password, enumerable: false });
    this.#config = config;
    this.#queryTimeout = options.queryTimeoutMillis ?? 1000;
  }

  async check(signal: AbortSignal): Promise<ProbeResult> {
    const drop = () => this.#drop();
    signal.addEventListener('abort', drop, { once: true });
    try {
      const conn = await this.#connect();
      if (signal.aborted) throw new DbRouterError('NODE_DOWN', 'The check was abandoned.');
      const started = performance.now();
      const vars = await this.#variables(conn);
      let status: ReplicaStatusRow | undefined;
      if (!this.#denied) {
        try {
          status = await this.#replicaStatus(conn);
        } catch (e) {
          if (!DENIED.has((e as QueryError).errno ?? 0)) throw e;
          this.#denied = true;
        }
      }
      return mysqlProbeResult(vars, status, this.#denied, performance.now() - started);
    } catch (e) {
      this.#drop();
      throw e;
    } finally {
      signal.removeEventListener('abort', drop);
    }
  }

  // MariaDB first; MySQL (no @@gtid_binlog_pos: ER_UNKNOWN_SYSTEM_VARIABLE) reads @@gtid_executed.
  async #variables(conn: Connection): Promise<Variables> {
    let row: Variables | undefined;
    if (this.#flavor === 'mariadb') {
      try {
        row = (await this.#query<Variables>(conn, VARIABLES_SQL))[0];
      } catch (e) {
        if ((e as QueryError).errno !== UNKNOWN_VARIABLE) throw e;
        this.#flavor = 'mysql';
      }
    }
    if (this.#flavor === 'mysql') row = (await this.#query<Variables>(conn, MYSQL_VARIABLES_SQL))[0];
    if (!row) throw new DbRouterError('NODE_DOWN', 'The health check query returned no row.');
    return row;
  }

  async #replicaStatus(conn: Connection): Promise<ReplicaStatusRow | undefined> {
    if (this.#flavor === 'mariadb') {
      // Every replication connection (multi-source): the default one ('') describes the replica.
      const rows = await this.#query<ReplicaStatusRow>(conn, 'SHOW ALL SLAVES STATUS');
      return rows.find((r) => !r.Connection_name) ?? rows[0];
    }
    // MySQL 8.0.22+ names it SHOW REPLICA STATUS, with Source/Replica column names.
    let row: Record<string, unknown> | undefined;
    try {
      row = (await this.#query<Record<string, unknown>>(conn, 'SHOW REPLICA STATUS'))[0];
    } catch (e) {
      if ((e as QueryError).errno !== PARSE_ERROR) throw e;
      row = (await this.#query<Record<string, unknown>>(conn, 'SHOW SLAVE STATUS'))[0];
    }
    if (!row) return undefined;
    const pick = (a: string, b: string) => row[a] ?? row[b];
    return {
      Slave_IO_Running: pick('Replica_IO_Running', 'Slave_IO_Running') as string | undefined,
      Slave_SQL_Running: pick('Replica_SQL_Running', 'Slave_SQL_Running') as string | undefined,
      Seconds_Behind_Master: pick('Seconds_Behind_Source', 'Seconds_Behind_Master') as number | null | undefined,
      Master_Host: pick('Source_Host', 'Master_Host') as string | undefined,
      Master_Port: pick('Source_Port', 'Master_Port') as number | undefined,
      Gtid_IO_Pos: row.Retrieved_Gtid_Set as string | undefined,
      Last_IO_Errno: pick('Last_IO_Errno', 'Last_IO_Errno') as number | undefined,
      Last_IO_Error: pick('Last_IO_Error', 'Last_IO_Error') as string | undefined,
      Last_SQL_Errno: pick('Last_SQL_Errno', 'Last_SQL_Errno') as number | undefined,
      Last_SQL_Error: pick('Last_SQL_Error', 'Last_SQL_Error') as string | undefined,
    };
  }

  close(): Promise<void> {
    const conn = this.#conn;
    this.#conn = undefined;
    if (!conn) return Promise.resolve();
    // Politely within the query bound; a server that stopped answering never acknowledges COM_QUIT.
    return endWithin(() => new Promise<void>((resolve) => conn.end(() => resolve())), this.#queryTimeout, () => conn.destroy());
  }

  #query<T>(conn: Connection, sql: string): Promise<T[]> {
    return new Promise((resolve, reject) => {
      conn.query({ sql, timeout: this.#queryTimeout }, (err, rows) => (err ? reject(err) : resolve(rows as T[])));
    });
  }

  #connect(): Promise<Connection> {
    if (this.#conn) return Promise.resolve(this.#conn);
    this.#connecting ??= new Promise<Connection>((resolve, reject) => {
      const conn = loadMysql().createConnection(this.#config);
      // A background check never keeps a process alive: a script that is done exits.
      (conn as unknown as { stream?: { unref?(): void } }).stream?.unref?.();
      // A monitoring connection that breaks is simply opened again at the next check.
      conn.on('error', () => {
        if (this.#conn === conn) this.#conn = undefined;
      });
      this.#pending = conn;
      conn.connect((err) => {
        this.#pending = undefined;
        if (err) {
          conn.destroy();
          reject(err);
        } else {
          this.#conn = conn;
          resolve(conn);
        }
      });
    }).finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  // destroy(), not end(): end() waits for a server that may never answer.
  #drop(): void {
    this.#conn?.destroy();
    this.#pending?.destroy();
    this.#conn = undefined;
  }
}

const LIMITED =
  'SHOW SLAVE STATUS was denied: the monitor sees neither the replication threads nor the upstream, and estimates lag from GTID positions only. ' +
  'Grant SLAVE MONITOR (REPLICATION CLIENT before MariaDB 10.5.9, and on MySQL) or give the monitor its own credentials (monitor: { user, password }).';

/** @internal What one check's rows mean (exported for unit tests). */
export function mysqlProbeResult(vars: Variables, status: ReplicaStatusRow | undefined, denied: boolean, rttMillis: number): ProbeResult {
  const readOnly = Number(vars.ro) === 1;
  const binlog = vars.binlog_pos ?? undefined;
  const applied = vars.replica_pos ?? undefined;
  const io = status?.Slave_IO_Running;
  const sql = status?.Slave_SQL_Running;
  const replicating = status !== undefined && (io === 'Yes' || io === 'Connecting' || sql === 'Yes');
  if (!readOnly && !replicating) {
    return {
      role: 'primary', position: binlog, replayPosition: binlog, lagMillis: 0, lagTransactions: 0,
      upstream: undefined, paused: false, rttMillis, ...(denied ? { limited: LIMITED } : {}),
    };
  }
  // Positions the replica holds: what it applied and its own binlog (a write made on the replica
  // itself lands only there). MySQL reports one set for both.
  const held = [...new Set([applied, binlog].filter((p): p is string => p !== undefined && p !== ''))];
  if (denied || status === undefined) {
    // No thread state to read: the engine's own lag is unknown to us, so report none and let the
    // monitor measure it against the primary's GTID positions. A read_only node that has no
    // replication configured (status undefined, not denied) is stalled: lag unknown.
    return {
      role: 'replica', position: applied, replayPosition: applied, lagMillis: denied ? 0 : undefined,
      upstream: undefined, paused: !denied, rttMillis, heldPositions: held, ...(denied ? { limited: LIMITED } : {}),
    };
  }
  const stopped = stoppedReason(status);
  const seconds = status.Seconds_Behind_Master;
  const received = status.Gtid_IO_Pos || applied;
  let lagMillis: number | undefined;
  if (sql !== 'Yes') {
    // The SQL thread is stopped: Seconds_Behind_Master is NULL, and that is unknown lag (treated
    // as beyond any bound), never "no lag".
    lagMillis = undefined;
  } else if (io === 'Yes') {
    lagMillis = seconds === null || seconds === undefined || seconds === '' ? undefined : Number(seconds) * 1000;
  } else {
    // The IO thread is not connected (its primary is gone or unreachable): everything received is
    // applied or not. Like PostgreSQL's receive == replay, that is 0 behind the stream; the
    // monitor measures the rest against the primary's GTID positions.
    lagMillis = received !== undefined && applied !== undefined && gtidReached(applied, received) ? 0 : undefined;
  }
  return {
    role: 'replica',
    position: received,
    replayPosition: applied,
    lagMillis,
    lagTransactions: received !== undefined && applied !== undefined ? gtidDistance(applied, received) : undefined,
    upstream: status.Master_Host ? `${status.Master_Host}:${String(status.Master_Port ?? '')}` : undefined,
    paused: sql !== 'Yes',
    rttMillis,
    heldPositions: held,
    ...(stopped !== undefined ? { replicationStopped: stopped } : {}),
  };
}

/**
 * Why replication has stopped, or `undefined` while it runs or is only paused. A stopped SQL
 * thread with no error is a pause of replay (lag measures it); a receiving thread that stopped
 * (`No`, not `Connecting`: it no longer even retries) or any thread error (1236: the primary no
 * longer has, or never had, the history the replica asks for) means it will not catch up by itself.
 */
function stoppedReason(status: ReplicaStatusRow): string | undefined {
  const ioErr = Number(status.Last_IO_Errno ?? 0);
  const sqlErr = Number(status.Last_SQL_Errno ?? 0);
  const reasons: string[] = [];
  if (status.Slave_IO_Running === 'No' || (status.Slave_IO_Running !== 'Connecting' && ioErr !== 0)) {
    reasons.push(ioErr !== 0 ? `its receiving (IO) thread stopped with error ${ioErr}${status.Last_IO_Error ? `: ${status.Last_IO_Error}` : ''}` : 'its receiving (IO) thread is stopped');
  }
  if (sqlErr !== 0) reasons.push(`its applying (SQL) thread stopped with error ${sqlErr}${status.Last_SQL_Error ? `: ${status.Last_SQL_Error}` : ''}`);
  return reasons.length > 0 ? reasons.join('; ') : undefined;
}

function loadMysql(): { createConnection(config: ConnectionOptions): Connection } {
  return loadDriver<{ createConnection(config: ConnectionOptions): Connection }>('mysql2');
}
