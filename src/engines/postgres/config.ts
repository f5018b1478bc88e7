import { inspect } from 'node:util';
import type { ClientConfig } from 'pg';
import type { ConnectionOptions } from '../../routing/contracts.js';
import { DEFAULT_CONNECT_TIMEOUT_MILLIS, DEFAULT_KEEPALIVE_DELAY_MILLIS } from '../bounds.js';

/**
 * The prototype of the node-postgres settings dbrouter hands out: logs and JSON show the password
 * as `[hidden]`, yet it is an ordinary enumerable property, so a copy made with `{ ...config }` or
 * `Object.assign` (what ORMs and pg-pool do with a config) still connects.
 */
const REDACTED: object = Object.freeze(
  Object.create(Object.prototype, {
    toJSON: { value: function toJSON(this: Record<string, unknown>) { return redacted(this); }, enumerable: false },
    [inspect.custom]: {
      value: function inspectConfig(this: Record<string, unknown>, depth: number, options: object) {
        return inspect(redacted(this), { ...options, depth });
      },
      enumerable: false,
    },
  }) as object,
);

function redacted(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  if (out.password !== undefined) out.password = '[hidden]';
  if (typeof out.connectionString === 'string') out.connectionString = out.connectionString.replace(/:\/\/([^:@/]*):[^@/]*@/, '://$1:[hidden]@');
  return out;
}

/** A settings object whose password survives a spread but not a log line (see {@link REDACTED}). */
export function redactedConfig<T extends object>(fields: T): T {
  return Object.assign(Object.create(REDACTED) as T, fields);
}

/** node-postgres settings for one node. The password is hidden from logs and JSON, kept by a spread. */
export function pgClientConfig(c: ConnectionOptions): ClientConfig & Record<string, unknown> {
  return redactedConfig<ClientConfig & Record<string, unknown>>({
    host: c.host,
    port: c.port,
    user: c.user,
    database: c.database,
    ...(c.password !== undefined ? { password: c.password } : {}),
    ...(c.ssl !== undefined ? { ssl: c.ssl } : {}),
    ...(c.pool.max !== undefined ? { max: c.pool.max } : {}),
    ...(c.pool.idleTimeoutMillis !== undefined ? { idleTimeoutMillis: c.pool.idleTimeoutMillis } : {}),
    // node-postgres waits forever for a server that accepts TCP and never answers: bound it.
    connectionTimeoutMillis: c.pool.connectionTimeoutMillis ?? DEFAULT_CONNECT_TIMEOUT_MILLIS,
    // Off by default in node-postgres: a silent peer would hold a connection until TCP gives up.
    keepAlive: true,
    keepAliveInitialDelayMillis: DEFAULT_KEEPALIVE_DELAY_MILLIS,
    ...c.driverOptions,
  });
}
