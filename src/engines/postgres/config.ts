import type { ClientConfig } from 'pg';
import type { ConnectionOptions } from '../../routing/contracts.js';

/** node-postgres settings for one node. The password stays non-enumerable. */
export function pgClientConfig(c: ConnectionOptions): ClientConfig & Record<string, unknown> {
  const config: ClientConfig & Record<string, unknown> = {
    host: c.host,
    port: c.port,
    user: c.user,
    database: c.database,
    ...(c.ssl !== undefined ? { ssl: c.ssl } : {}),
    ...(c.pool.max !== undefined ? { max: c.pool.max } : {}),
    ...(c.pool.idleTimeoutMillis !== undefined ? { idleTimeoutMillis: c.pool.idleTimeoutMillis } : {}),
    ...(c.pool.connectionTimeoutMillis !== undefined ? { connectionTimeoutMillis: c.pool.connectionTimeoutMillis } : {}),
    ...c.driverOptions,
  };
  if (c.password !== undefined) Object.defineProperty(config, 'password', { value: c.password, enumerable: false, writable: true, configurable: true });
  return config;
}

