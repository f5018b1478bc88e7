import { createRequire } from 'node:module';
import type { Connection, ConnectionOptions, QueryError } from 'mysql2';
import { reached } from '../../consistency/position.js';
import { DbRouterError } from '../../errors.js';
import type { MonitoredNode, NodeProbe, ProbeResult, Prober } from '../../health/probe.js';
import type { ProbeConnection } from '../postgres/probe.js';

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

const VARIABLES_SQL = 'SELECT @@global.read_only AS ro, @@global.gtid_binlog_pos AS binlog_pos, @@global.gtid_slave_pos AS slave_pos';
/** ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_ERROR (no SLAVE MONITOR / REPLICATION CLIENT). */
const DENIED = new Set([1227, 1045]);

interface Variables { ro: number | string; binlog_pos: string | null; slave_pos: string | null }
interface SlaveStatus {
  Slave_IO_Running?: string;
  Slave_SQL_Running?: string;
  Seconds_Behind_Master?: number | string | null;
  Master_Host?: string;
  Master_Port?: number | string;
  Gtid_IO_Pos?: string;
}

/**
 * The MariaDB side of the health monitor: `@@read_only` and `SHOW SLAVE STATUS` for the role,
 * GTID positions (`@@gtid_binlog_pos` on the primary, `@@gtid_slave_pos` and `Gtid_IO_Pos` on a
 * replica), `Seconds_Behind_Master` for the time lag — NULL (SQL or IO thread stopped) is unknown
 * lag, never "no lag".
 *
 * @example
 *   const monitor = new HealthMonitor({ nodes, prober: mariadbProber({ connections }) })
 */
export function mariadbProber(options: MariadbProberOptions): Prober {
  return {
    positionUnit: 'transactions',
    forNode(node: MonitoredNode): NodeProbe {
      const connection = options.connections[node.alias];
      if (!connection) throw new DbRouterError('UNKNOWN_ALIAS', `No connection is configured for node "${node.alias}".`);
      return new MariadbProbe(connection, options);
    },
    reached: (have, want) => reached('mariadb', have, want),
    distance: gtidDistance,
  };
}

/**
 * Transactions `have` lacks to reach `want`: per replication domain, the difference of sequence
 * numbers (strict GTID mode keeps them increasing per domain). 0 when caught up, `undefined` when
 * a position cannot be read.
 *
 * @example
 *   gtidDistance('0-1-40', '0-1-42,1-2-3') // 5
 */
export function gtidDistance(have: string, want: string): number | undefined {
  const h = parseGtids(have);
  const w = parseGtids(want);
  if (!h || !w) return undefined;
  let total = 0n;
  for (const [domain, seq] of w) {
    const got = h.get(domain) ?? 0n;
    if (seq > got) total += seq - got;
  }
  return Number(total);
}

function parseGtids(pos: string): Map<string, bigint> | undefined {
  const out = new Map<string, bigint>();
  for (const part of pos.split(',')) {
    if (part.trim() === '') continue;
    const m = /^\s*(\d+)-\d+-(\d+)\s*$/.exec(part);
    if (!m) return undefined;
    const seq = BigInt(m[2]!);
    if (seq > (out.get(m[1]!) ?? -1n)) out.set(m[1]!, seq);
  }
  return out;
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
      const vars = (await this.#query<Variables>(conn, VARIABLES_SQL))[0];
      if (!vars) throw new DbRouterError('NODE_DOWN', 'The health check query returned no row.');
      let status: SlaveStatus | undefined;
      if (!this.#denied) {
        try {
          status = (await this.#query<SlaveStatus>(conn, 'SHOW SLAVE STATUS'))[0];
        } catch (e) {
          if (!DENIED.has((e as QueryError).errno ?? 0)) throw e;
          this.#denied = true;
        }
      }
      return toResult(vars, status, this.#denied, performance.now() - started);
    } catch (e) {
      this.#drop();
      throw e;
    } finally {
      signal.removeEventListener('abort', drop);
    }
  }

  close(): Promise<void> {
    const conn = this.#conn;
    this.#conn = undefined;
    if (!conn) return Promise.resolve();
    return new Promise((resolve) => conn.end(() => resolve()));
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
  'Grant SLAVE MONITOR (REPLICATION CLIENT before 10.5.9) or give the monitor its own credentials (monitor: { user, password }).';

function toResult(vars: Variables, status: SlaveStatus | undefined, denied: boolean, rttMillis: number): ProbeResult {
  const readOnly = Number(vars.ro) === 1;
  const binlog = vars.binlog_pos ?? undefined;
  const applied = vars.slave_pos ?? undefined;
  const io = status?.Slave_IO_Running;
  const sql = status?.Slave_SQL_Running;
  const replicating = status !== undefined && (io === 'Yes' || io === 'Connecting' || sql === 'Yes');
  if (!readOnly && !replicating) {
    return {
      role: 'primary', position: binlog, replayPosition: binlog, lagMillis: 0, lagTransactions: 0,
      upstream: undefined, paused: false, rttMillis, ...(denied ? { limited: LIMITED } : {}),
    };
  }
  if (denied || status === undefined) {
    // No thread state to read: the engine's own lag is unknown to us, so report none and let the
    // monitor measure it against the primary's GTID positions. A read_only node that has no
    // replication configured (status undefined, not denied) is stalled: lag unknown.
    return {
      role: 'replica', position: applied, replayPosition: applied, lagMillis: denied ? 0 : undefined,
      upstream: undefined, paused: !denied, rttMillis, ...(denied ? { limited: LIMITED } : {}),
    };
  }
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
    lagMillis = received !== undefined && applied !== undefined && reached('mariadb', applied, received) ? 0 : undefined;
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
  };
}

const require = createRequire(import.meta.url);

function loadMysql(): { createConnection(config: ConnectionOptions): Connection } {
  try {
    return require('mysql2') as { createConnection(config: ConnectionOptions): Connection };
  } catch (cause) {
    throw new DbRouterError('CONFIG_INVALID', 'The "mysql2" package is not installed; run: npm install mysql2', { cause });
  }
}
