import type { ConnectionOptions as MysqlConnectionOptions } from 'mysql2';
import type { ConnectionOptions, Engine, HasInternals } from '../../routing/contracts.js';
import type { Role } from '../../routing/router.js';
import { errorCode, errorNumber } from '../engine.js';
import { mysqlPoolConfig } from './config.js';
import { RoutedMysqlPool } from './routed-pool.js';
import { loadDriver } from '../driver.js';
import { MysqlPositions } from './positions.js';

/** ER_OPTION_PREVENTS_STATEMENT, ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION, ER_READ_ONLY_MODE. */
const READ_ONLY_ERRNO = new Set([1290, 1792, 1836]);
const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_SERVER_SHUTDOWN', 'ER_CON_COUNT_ERROR',
]);

interface MysqlPromiseConnection {
  query(sql: string): Promise<[unknown, unknown]>;
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

  isConnectionError(err: unknown): boolean {
    const code = errorCode(err);
    return typeof code === 'string' && CONNECTION_CODES.has(code);
  }

  createPool(cluster: HasInternals, options?: { readonly pinned?: string }): RoutedMysqlPool {
    return new RoutedMysqlPool(cluster, options);
  }

  createPositions(): MysqlPositions {
    return new MysqlPositions();
  }

  async discoverRole(connection: ConnectionOptions): Promise<Role> {
    const mysql = loadDriver<{ createConnection(c: MysqlConnectionOptions): Promise<MysqlPromiseConnection> }>('mysql2/promise');
    const conn = await mysql.createConnection(mysqlPoolConfig(connection));
    conn.on('error', () => {});
    try {
      const [rows] = await conn.query('SELECT @@global.read_only AS r');
      const r = (rows as { r?: unknown }[])[0]?.r;
      return Number(r) === 1 ? 'replica' : 'primary';
    } finally {
      await conn.end().catch(() => {});
    }
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
