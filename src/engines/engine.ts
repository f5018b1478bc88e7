import type { HasInternals } from '../cluster/internals.js';
import type { Dialect } from '../sql/types.js';
import type { ReplicationPositions } from './positions.js';

/** A node's role: the primary takes writes; a replica serves reads. */
export type Role = 'primary' | 'replica';

/** The engine name a cluster runs on. One cluster is one engine. */
export type EngineName = 'postgres' | 'mysql';

/**
 * Everything needed to open a connection to one node. The password is a non-enumerable property,
 * so it never shows in `JSON.stringify`, `util.inspect` or a spread into a log line.
 */
export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string | undefined;
  readonly password?: string;
  readonly database: string | undefined;
  readonly ssl: boolean | Record<string, unknown> | undefined;
  /** Pool size and timeouts, in the engine-independent names of {@link PoolOptions}. */
  readonly pool: PoolOptions;
  /** Passed to the driver as is (after the options above): the escape hatch for driver settings. */
  readonly driverOptions: Readonly<Record<string, unknown>>;
}

/** Pool settings for one node; each engine maps them onto its driver's names. */
export interface PoolOptions {
  /** Most connections open to this node at once. */
  readonly max?: number;
  /** Close a connection idle for this long. */
  readonly idleTimeoutMillis?: number;
  /** Give up opening a connection after this long. */
  readonly connectionTimeoutMillis?: number;
}

/**
 * What differs between PostgreSQL and MySQL/MariaDB, behind one interface: the routing core never
 * branches on the engine. Later layers add replication positions and lag here (consistency, health).
 */
export interface Engine {
  readonly name: EngineName;
  readonly dialect: Dialect;
  readonly defaultPort: number;
  /** True when a server refused a statement because it is read-only (a write that reached a replica). */
  isReadOnlyError(err: unknown): boolean;
  /** True when an error means the connection or the server is gone, not that the statement was wrong. */
  isConnectionError(err: unknown): boolean;
  /**
   * True when a connection error proves the statement never reached a server: the connection was
   * refused, its host did not resolve or could not be reached, it timed out while connecting, the
   * server refused the session (starting up, shutting down, too many connections), or the driver
   * refused to send on a connection it already knew was dead. Such a statement is safe to send
   * again anywhere. Any other connection error (reset, terminated, lost mid-query) may have cut a
   * statement the server already ran.
   */
  neverSent(err: unknown): boolean;
  /**
   * Ask the server itself whether it is a primary or a replica (one short-lived connection), within
   * `timeoutMillis` connecting included (default: the node's connect bound); past it the connection
   * is destroyed and the promise rejects.
   */
  discoverRole(connection: ConnectionOptions, timeoutMillis?: number): Promise<Role>;
  /** This engine's routed pool over a cluster; `pinned` sends every statement to one alias (migrations). */
  createPool(cluster: HasInternals, options?: { readonly pinned?: string }): { end(): Promise<void> };
  /** One statement on its own short-lived connection (a check done once, outside the pools). */
  queryOnce(connection: ConnectionOptions, sql: string): Promise<readonly Record<string, unknown>[]>;
  /** Reading and waiting on replication positions (consistency layer); one per cluster. */
  createPositions(): ReplicationPositions;
}

/** `code` of an error object, when it has one. */
export function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

/** Socket errors that only happen before a connection exists: nothing was sent on it. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/**
 * The engine-independent half of `neverSent`: Node's socket errors raised while connecting (a
 * `connect` or DNS `getaddrinfo` syscall, e.g. ETIMEDOUT while connecting; not a reset of an open
 * connection, which may have cut a statement the server ran).
 */
export function failedToConnect(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, syscall } = err as { code?: unknown; syscall?: unknown };
  return (typeof code === 'string' && NOT_CONNECTED.has(code)) || syscall === 'connect' || syscall === 'getaddrinfo';
}

/** `errno` of an error object, when it has one. */
export function errorNumber(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { errno?: unknown }).errno : undefined;
}
