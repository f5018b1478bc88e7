import type { Client, ClientConfig } from 'pg';
import type { ConnectionOptions, Engine, HasInternals } from '../../routing/contracts.js';
import type { Role } from '../../routing/router.js';
import { errorCode } from '../engine.js';
import { pgClientConfig } from './config.js';
import { RoutedPgPool } from './routed-pool.js';
import { loadDriver } from '../driver.js';
import { PostgresPositions } from './positions.js';

/** SQLSTATE classes that mean the connection or the server is gone. */
const CONNECTION_SQLSTATE = /^(08|57P0[1-3])/;
const CONNECTION_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

/** PostgreSQL: read-only is SQLSTATE 25006; the role is `pg_is_in_recovery()`. */
export class PostgresEngine implements Engine {
  readonly name = 'postgres' as const;
  readonly dialect = 'postgres' as const;
  readonly defaultPort = 5432;

  isReadOnlyError(err: unknown): boolean {
    return errorCode(err) === '25006';
  }

  isConnectionError(err: unknown): boolean {
    const code = errorCode(err);
    if (typeof code !== 'string') return err instanceof Error && /Connection terminated|connection timeout/i.test(err.message);
    return CONNECTION_SQLSTATE.test(code) || CONNECTION_NODE_CODES.has(code);
  }

  createPool(cluster: HasInternals, options?: { readonly pinned?: string }): RoutedPgPool {
    return new RoutedPgPool(cluster, options);
  }

  createPositions(): PostgresPositions {
    return new PostgresPositions();
  }

  async discoverRole(connection: ConnectionOptions): Promise<Role> {
    const pg = loadDriver<{ Client: new (c: ClientConfig) => Client }>('pg');
    const client = new pg.Client(pgClientConfig(connection));
    client.on('error', () => {});
    await client.connect();
    try {
      const r = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      return r.rows[0]?.r === true ? 'replica' : 'primary';
    } finally {
      await client.end().catch(() => {});
    }
  }

  async queryOnce(connection: ConnectionOptions, sql: string): Promise<readonly Record<string, unknown>[]> {
    const pg = loadDriver<{ Client: new (c: ClientConfig) => Client }>('pg');
    const client = new pg.Client(pgClientConfig(connection));
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query(sql)).rows as Record<string, unknown>[];
    } finally {
      await client.end().catch(() => {});
    }
  }
}

export const postgresEngine = new PostgresEngine();
