import type { ConnectionOptions as MysqlConnectionOptions } from 'mysql2';
import type { ConnectionOptions, Engine, HasInternals } from '../../routing/contracts.js';
import type { Role } from '../../routing/router.js';
import { errorCode, errorNumber, failedToConnect, isCutForDownNode } from '../engine.js';
import { mysqlPoolConfig } from './config.js';
import { RoutedMysqlPool } from './routed-pool.js';
import { loadDriver } from '../driver.js';
import { MysqlPositions } from './positions.js';
import { DEFAULT_CONNECT_TIMEOUT_MILLIS, withTimeout } from '../bounds.js';
import { DbRouterError } from '../../errors.js';

/** ER_OPTION_PREVENTS_STATEMENT, ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION, ER_READ_ONLY_MODE. */
const READ_ONLY_ERRNO = new Set([1290, 1792, 1836]);
/**
 * Not PROTOCOL_SEQUENCE_TIMEOUT: mysql2 raises it only for a statement's own `timeout` option
 * ("Query inactivity timeout"), the caller's budget for a slow statement, as pg's `query_timeout`
 * is. The node is fine and the connection stays checked out until the statement ends, so the error
 * passes through as mysql2's: no re-run elsewhere, no report to the health monitor, and a write
 * is not turned into WRITE_OUTCOME_UNKNOWN.
 */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH',
  'PROTOCOL_CONNECTION_LOST', 'ER_SERVER_SHUTDOWN', 'ER_CON_COUNT_ERROR',
  // MariaDB's answer to KILL CONNECTION on a running statement, before it closes the connection.
  'ER_CONNECTION_KILLED',
  // The mariadb connector: its socket closed under a statement; a command refused on a closed connection.
  'ER_SOCKET_UNEXPECTED_CLOSE', 'ER_CMD_CONNECTION_CLOSED',
]);

/**
 * Refused before any statement: ER_CON_COUNT_ERROR (too many connections, sent instead of the
 * handshake), and the mariadb connector's ER_CMD_CONNECTION_CLOSED (a command refused on a
 * connection it already knows is closed). Not ER_SERVER_SHUTDOWN: a server sends it to the
 * statements it cuts.
 */
const REFUSED_SESSION_CODES = new Set(['ER_CON_COUNT_ERROR', 'ER_CMD_CONNECTION_CLOSED']);
/**
 * The mariadb connector's pool gave up handing out a connection while it had none and could not
 * open one (ER_GET_CONNECTION_TIMEOUT with this wording; the opening error is its `cause`): nothing
 * was sent. Its other wording ("pool timeout: … after N ms") means the pool was full, and passes
 * through as pg-pool's `timeout exceeded when trying to connect` does.
 */
function connectorCouldNotConnect(err: unknown): boolean {
  return errorCode(err) === 'ER_GET_CONNECTION_TIMEOUT' && err instanceof Error && err.message.includes('pool failed to retrieve a connection from pool');
}

/** mysql2 refusing to send on a connection it already knows is closed. */
const NOT_SENT_MESSAGE = /^Can't add new command when connection is in closed state/;

interface MysqlPromiseConnection {
  query(sql: string | { sql: string; timeout: number }): Promise<[unknown, unknown]>;
  destroy(): void;
  end(): Promise<void>;
  on(event: 'error', fn: () => void): unknown;
}

/** MySQL/MariaDB: read-only is errno 1290/1792/1836; the role is `@@global.read_only`. */
export class MysqlEngine implements Engine {
  readonly name = 'mysql' as const;
  readonly dialect = 'mysql' as const;
  readonly defaultPort = 3306;

  isReadOnlyError(err: unknown): boolean {
    const n = errorNumber(err);
    return typeof n === 'number' && READ_ONLY_ERRNO.has(n);
  }

  // A server's error packet carries its number and SQLSTATE; socket errors have negative errnos and
  // the mariadb connector's own errors are numbered from 45000.
  responseCode(err: unknown): string | undefined {
    const n = errorNumber(err);
    return typeof n === 'number' && n > 0 && n < 45000 && typeof (err as { sqlState?: unknown }).sqlState === 'string' ? String(n) : undefined;
  }

  isConnectionError(err: unknown): boolean {
    if (isCutForDownNode(err) || connectorCouldNotConnect(err)) return true;
    const code = errorCode(err);
    if (typeof code === 'string') return CONNECTION_CODES.has(code);
    return err instanceof Error && NOT_SENT_MESSAGE.test(err.message);
  }

  // PROTOCOL_CONNECTION_LOST ("Connection lost: The server closed the connection."), ECONNRESET,
  // EPIPE and ER_SERVER_SHUTDOWN come from a connection that was open: the statement may have run.
  neverSent(err: unknown): boolean {
    if (failedToConnect(err) || connectorCouldNotConnect(err)) return true;
    const code = errorCode(err);
    if (typeof code === 'string') return REFUSED_SESSION_CODES.has(code);
    return err instanceof Error && NOT_SENT_MESSAGE.test(err.message);
  }

  createPool(cluster: HasInternals, options?: { readonly pinned?: string }): RoutedMysqlPool {
    return new RoutedMysqlPool(cluster, options);
  }

  createPositions(): MysqlPositions {
    return new MysqlPositions();
  }

  discoverRole(connection: ConnectionOptions, timeoutMillis?: number): Promise<Role> {
    const mysql = loadDriver<{ createConnection(c: MysqlConnectionOptions): Promise<MysqlPromiseConnection> }>('mysql2/promise');
    const config = mysqlPoolConfig(connection);
    const bound = timeoutMillis ?? config.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MILLIS;
    config.connectTimeout = bound;
    let conn: MysqlPromiseConnection | undefined;
    let abandoned = false;
    const ask = async (): Promise<Role> => {
      conn = await mysql.createConnection(config);
      conn.on('error', () => {});
      if (abandoned) throw new DbRouterError('NODE_DOWN', 'Abandoned.');
      const [rows] = await conn.query({ sql: 'SELECT @@global.read_only AS r', timeout: bound });
      const r = (rows as { r?: unknown }[])[0]?.r;
      return Number(r) === 1 ? 'replica' : 'primary';
    };
    const drop = (): void => {
      abandoned = true;
      conn?.destroy();
    };
    return withTimeout(ask(), bound, () => new DbRouterError('NODE_DOWN', `The server did not say its role within ${bound} ms.`), drop).finally(() => {
      const c = conn;
      if (c !== undefined && !abandoned) c.end().catch(() => c.destroy());
    });
  }

  async queryOnce(connection: ConnectionOptions, sql: string): Promise<readonly Record<string, unknown>[]> {
    const mysql = loadDriver<{ createConnection(c: MysqlConnectionOptions): Promise<MysqlPromiseConnection> }>('mysql2/promise');
    const conn = await mysql.createConnection(mysqlPoolConfig(connection));
    conn.on('error', () => {});
    try {
      const [rows] = await conn.query(sql);
      return rows as Record<string, unknown>[];
    } finally {
      await conn.end().catch(() => {});
    }
  }
}

export const mysqlEngine = new MysqlEngine();
