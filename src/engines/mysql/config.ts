import type { PoolOptions as MysqlPoolOptions } from 'mysql2';
import type { ConnectionOptions } from '../../routing/contracts.js';
import { DEFAULT_CONNECT_TIMEOUT_MILLIS, DEFAULT_KEEPALIVE_DELAY_MILLIS } from '../bounds.js';

/** mysql2 settings for one node. The password stays non-enumerable. */
export function mysqlPoolConfig(c: ConnectionOptions): MysqlPoolOptions & Record<string, unknown> {
  const config: MysqlPoolOptions & Record<string, unknown> = {
    host: c.host,
    port: c.port,
    ...(c.user !== undefined ? { user: c.user } : {}),
    ...(c.database !== undefined ? { database: c.database } : {}),
    ...(c.ssl !== undefined && c.ssl !== false ? { ssl: c.ssl === true ? {} : c.ssl } : {}),
    ...(c.pool.max !== undefined ? { connectionLimit: c.pool.max } : {}),
    ...(c.pool.idleTimeoutMillis !== undefined ? { idleTimeout: c.pool.idleTimeoutMillis } : {}),
    connectTimeout: c.pool.connectionTimeoutMillis ?? DEFAULT_CONNECT_TIMEOUT_MILLIS,
    // mysql2 enables keepalive but leaves the first probe to the operating system (2 hours on Linux).
    enableKeepAlive: true,
    keepAliveInitialDelay: DEFAULT_KEEPALIVE_DELAY_MILLIS,
    ...c.driverOptions,
  };
  if (c.password !== undefined) Object.defineProperty(config, 'password', { value: c.password, enumerable: false, writable: true, configurable: true });
  return config;
}

