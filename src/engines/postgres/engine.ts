import type { Client, ClientConfig } from 'pg';
import type { ConnectionOptions, Engine, HasInternals } from '../../routing/contracts.js';
import type { Role } from '../../routing/router.js';
import { errorCode, failedToConnect, isCutForDownNode } from '../engine.js';
import { pgClientConfig } from './config.js';
import { RoutedPgPool } from './routed-pool.js';
import { loadDriver } from '../driver.js';
import { PostgresPositions } from './positions.js';
import { DEFAULT_CONNECT_TIMEOUT_MILLIS, withTimeout } from '../bounds.js';
import { DbRouterError } from '../../errors.js';

/** SQLSTATE classes that mean the connection or the server is gone. */
const CONNECTION_SQLSTATE = /^(08|57P0[1-3])/;
const CONNECTION_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);
/**
 * The server refused the session before any statement: 57P03 cannot_connect_now (starting up,
 * shutting down, in recovery without hot standby), 53300 too_many_connections, 08001/08004 (the
 * client could not establish it, the server rejected it).
 */
const REFUSED_SESSION_SQLSTATE = new Set(['57P03', '53300', '08001', '08004']);
/**
 * node-postgres's own errors raised before a statement is written: pg-pool's connect timeouts,
 * and a query refused on a client already known dead or closed.
 */
const NOT_SENT_MESSAGE = /^(timeout exceeded when trying to connect|Connection terminated due to connection timeout|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)/;

/** PostgreSQL: read-only is SQLSTATE 25006; the role is `pg_is_in_recovery()`. */
export class PostgresEngine implements Engine {
  readonly name = 'postgres' as const;
  readonly dialect = 'postgres' as const;
  readonly defaultPort = 5432;

  isReadOnlyError(err: unknown): boolean {
    return errorCode(err) === '25006';
  }

  // A server's ErrorResponse (pg's DatabaseError) has a severity; a socket error's code (EPIPE) does not.
  responseCode(err: unknown): string | undefined {
    const code = errorCode(err);
    return typeof code === 'string' && typeof (err as { severity?: unknown }).severity === 'string' ? code : undefined;
  }

  isConnectionError(err: unknown): boolean {
    if (isCutForDownNode(err)) return true;
    const code = errorCode(err);
    // Exactly 'Connection terminated' is pg's word for a connection its own client ended on purpose
    // (a Client's end() with a statement running, a release that destroys): no sign of the node.
    if (typeof code !== 'string') return err instanceof Error && err.message !== 'Connection terminated' && /Connection terminated|connection timeout|not queryable/i.test(err.message);
    // The server answered with an ERROR (not FATAL), so the session goes on: a NUL byte in a
    // statement is 08P01 at ERROR level, an ordinary error and no reason to suspect the node.
    if ((err as { severity?: unknown }).severity === 'ERROR') return false;
    return CONNECTION_SQLSTATE.test(code) || CONNECTION_NODE_CODES.has(code) || REFUSED_SESSION_SQLSTATE.has(code);
  }

  // "Connection terminated unexpectedly", ECONNRESET, 57P01 (terminated by an administrator or a
  // fast shutdown) and the like come from a connection that was open: the statement may have run.
  neverSent(err: unknown): boolean {
    if (failedToConnect(err)) return true;
    const code = errorCode(err);
    if (typeof code === 'string') return REFUSED_SESSION_SQLSTATE.has(code);
    return err instanceof Error && NOT_SENT_MESSAGE.test(err.message);
  }

  createPool(cluster: HasInternals, options?: { readonly pinned?: string }): RoutedPgPool {
    return new RoutedPgPool(cluster, options);
  }

  createPositions(): PostgresPositions {
    return new PostgresPositions();
  }

  discoverRole(connection: ConnectionOptions, timeoutMillis?: number): Promise<Role> {
    const pg = loadDriver<{ Client: new (c: ClientConfig) => Client }>('pg');
    const config = pgClientConfig(connection);
    const bound = timeoutMillis ?? (config.connectionTimeoutMillis || DEFAULT_CONNECT_TIMEOUT_MILLIS);
    config.connectionTimeoutMillis = bound;
    const client = new pg.Client(config);
    client.on('error', () => {});
    const ask = async (): Promise<Role> => {
      await client.connect();
      const r = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      return r.rows[0]?.r === true ? 'replica' : 'primary';
    };
    // end() waits for a server that may never answer: destroy the socket instead.
    const drop = (): void => (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    return withTimeout(ask(), bound, () => new DbRouterError('NODE_DOWN', `The server did not say its role within ${bound} ms.`), drop).finally(() => {
      client.end().catch(() => {});
      drop();
    });
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
