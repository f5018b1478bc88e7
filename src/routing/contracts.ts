import type { Classification, Dialect } from '../sql/types.js';
import type { RouteDecision } from './decide.js';
import type { ReplicationPositions } from './positions.js';
import type { NodeInfo, Role } from './router.js';
import type { Commenter } from './sql-comment.js';
import type { NodeCounters } from './topology.js';

/*
 * The routing core's seams. An engine implements `Engine`; a cluster hands its routed pools a
 * `ClusterInternals`; the consistency layer hears writes through `WriteHook`. They sit here, with
 * the core, so that engines/ and cluster/ above both depend on them and never on each other's
 * insides (see "Dependencies run one way" in STYLE.md).
 */

/** The engine name a cluster runs on. One cluster is one engine. */
export type EngineName = 'postgres' | 'mysql';

/**
 * Everything needed to open a connection to one node. The password is a non-enumerable property,
 * so it never shows in `JSON.stringify`, `util.inspect` or a spread into a log line.
 */
export interface ConnectionOptions {
  /** Host name or IP address. */
  readonly host: string;
  /** TCP port (the engine's default when the configuration gave none). */
  readonly port: number;
  /** User to connect as; `undefined`: the driver's default. */
  readonly user: string | undefined;
  /** Not enumerable: read it by name only. */
  readonly password?: string;
  /** Database to connect to; `undefined`: the driver's default. */
  readonly database: string | undefined;
  /** TLS: `true`, the driver's TLS options, or `undefined`/`false` for none. */
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
  /** `postgres` or `mysql` (MySQL and MariaDB). */
  readonly name: EngineName;
  /** How its SQL is classified. */
  readonly dialect: Dialect;
  /** Port when a database gives none: 5432 or 3306. */
  readonly defaultPort: number;
  /** True when a server refused a statement because it is read-only (a write that reached a replica). */
  isReadOnlyError(err: unknown): boolean;
  /**
   * The database's response code when a server refused the statement: the SQLSTATE on PostgreSQL,
   * the error number on MySQL/MariaDB (`1062`); `undefined` for an error the client raised.
   */
  responseCode(err: unknown): string | undefined;
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
  createPool(cluster: HasInternals, options?: { readonly pinned?: string }): {
    /** Closes every connection the pool opened (what `cluster.migrate()` does when it is done). */
    end(): Promise<void>;
  };
  /** One statement on its own short-lived connection (a check done once, outside the pools). */
  queryOnce(connection: ConnectionOptions, sql: string): Promise<readonly Record<string, unknown>[]>;
  /** Reading and waiting on replication positions (consistency layer); one per cluster. */
  createPositions(): ReplicationPositions;
}

/** One node after validation. */
export interface ResolvedNode {
  readonly alias: string;
  readonly role: Role | undefined;
  readonly weight: number;
  readonly connection: ConnectionOptions;
  /** The node's URL with the password replaced by `***`: safe to log. */
  readonly safeUrl: string;
}

/**
 * What the consistency layer hears after a unit of work wrote on a primary: an autocommit write, or
 * the end of a transaction that wrote. `query` runs one statement on that primary (for example to
 * read `pg_current_wal_lsn()` or `@@gtid_binlog_pos`). A returned promise is awaited before the
 * caller gets its result, so a token captured here is ready when the caller goes on.
 */
export interface WriteEvent {
  /** The primary that took the write. */
  readonly alias: string;
  /** The write's text, or for `commit` the COMMIT's (never parameters). */
  readonly sql: string;
  /** How the classifier read `sql`. */
  readonly classification: Classification;
  /** `statement`: an autocommit write; `commit`: the end of a transaction that wrote. */
  readonly kind: 'statement' | 'commit';
  /**
   * Runs `sql` on the primary that took the write (a connection of the routed pool's own pool for
   * it, outside any transaction) and resolves with its rows as objects. Rejects with the driver's
   * error when the statement fails.
   */
  query(sql: string): Promise<readonly Record<string, unknown>[]>;
  /**
   * The write's own replication position, when the primary reported it with the result: on
   * MariaDB through mysql2, the GTID the autocommit write or the COMMIT committed (`'0-1-123'`,
   * from `last_gtid`, which dbrouter asks each connection to track). `undefined` when the result
   * did not carry one (PostgreSQL, MySQL, the `mariadb` connector, a write that changed nothing,
   * several statements at once, tracking turned off): the position is then only known by asking
   * the primary (`query`).
   */
  readonly position?: string | undefined;
}

/**
 * A listener for writes on a primary (`cluster.onWrite(hook)`), called once per autocommit write
 * and once per COMMIT of a transaction that wrote. Return a promise to hold the caller's result
 * until it settles (a rejection reaches the caller); return nothing to stay off the hot path.
 *
 * @example
 *   cluster.onWrite(async (e) => {
 *     if (e.kind === 'commit') audit.push({ alias: e.alias, at: Date.now() });
 *   });
 */
export type WriteHook = (event: WriteEvent) => void | Promise<void>;

/** What a routed pool needs from its cluster. Not part of the public API. */
export interface ClusterInternals {
  readonly engine: Engine;
  readonly nodes: readonly ResolvedNode[];
  readonly counters: NodeCounters;
  readonly isReady: boolean;
  ready(): Promise<void>;
  classify(sql: string): Classification;
  route(sql: string, c?: Classification): RouteDecision;
  node(alias: string): NodeInfo;
  primary(): NodeInfo;
  /** Whether `record` wants a start time (debug log or `'route'` listeners). */
  readonly timing: boolean;
  /** `err`: what a failed statement failed with (its codes go to `'route'` listeners; never its message). */
  record(node: NodeInfo, sql: string, reason: string, write: boolean, startedAt: number, misroute: boolean, failed: boolean, waitedMillis?: number, err?: unknown): void;
  /** The `sqlComment` setting's commenter; `undefined` (the default) when statements go out as written. */
  readonly sqlComment: Commenter | undefined;
  readonly hasWriteHooks: boolean;
  /**
   * Runs the write hooks; `undefined` when none returned a promise (no await on the hot path).
   * `position`: the write's own position when its result carried one ({@link WriteEvent.position}).
   */
  afterWrite(node: NodeInfo, sql: string, c: Classification, kind: 'statement' | 'commit', query: WriteEvent['query'], position: string | undefined): Promise<void> | undefined;
  /** Background errors from pools: emitted as the cluster's `'error'` when someone listens. */
  backgroundError(err: unknown): void;
  /**
   * Consistency seam: a read the read gates sent to the primary may go to a replica that has
   * caught up, or wait for one. `undefined` keeps `d` (the hot path: no await).
   */
  beforeRead(sql: string, d: RouteDecision, nodes: { rows(index: number, sql: string): Promise<readonly Record<string, unknown>[]> }): RouteDecision | Promise<RouteDecision> | undefined;
  /** Health seam (the monitor's `FailoverHooks`): a promise to await before a write, or `undefined` to go on at once. */
  beforeWrite(): Promise<void> | undefined;
  /** Health seam: a statement on `node` failed with a connection error; true to retry it once elsewhere. */
  connectionError(node: NodeInfo, err: unknown, write: boolean): boolean;
  /** Statements every new physical connection of every node runs first (`onConnect` in the cluster config). */
  readonly onConnect?: readonly string[];
  track(pool: { end(): Promise<void> }): void;
  untrack(pool: { end(): Promise<void> }): void;
}

/** The key under which a cluster hands its consistency layer to the HTTP integrations. */
export const CONSISTENCY: unique symbol = Symbol('dbrouter.cluster.consistency');

/** The key under which a cluster hands its internals to the routed pools. */
export const INTERNALS: unique symbol = Symbol('dbrouter.cluster.internals');

/**
 * What the routed pools (`createPgPool`, `createMysqlPool`, the driver modules) take: a `Cluster`
 * from `createCluster()`. Anything else is refused with a `DbRouterError` of code `CONFIG_INVALID`.
 */
export interface HasInternals {
  /** @internal */
  readonly [INTERNALS]: ClusterInternals;
}

/** Connections of one node's pool: what `cluster.poolStats()` adds up over every routed pool. */
export interface NodePoolCounts {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

/** The key of a routed pool's method that counts its connections per node index (`undefined`: no pool opened to that node yet). */
export const NODE_POOL_COUNTS: unique symbol = Symbol('dbrouter.pool.counts');

/** A routed pool that can count its connections per node. */
export interface CountsConnections {
  [NODE_POOL_COUNTS](): readonly (NodePoolCounts | undefined)[];
}

/**
 * The key of a routed pool's method that destroys its open connections to one node (by index), idle
 * ones and ones with a statement in flight, and returns how many it destroyed. What a cluster calls
 * once its health monitor has found that node unreachable: a statement waiting on a silent network
 * then fails at once (and follows the usual outcome rules) instead of waiting for TCP to give up.
 * `reason` says why, for the error the statement fails with; it never holds a credential.
 */
export const CLOSE_NODE_CONNECTIONS: unique symbol = Symbol('dbrouter.pool.closeNode');

/** A routed pool that can destroy its connections to one node. */
export interface ClosesNodeConnections {
  [CLOSE_NODE_CONNECTIONS](index: number, reason: string): number;
}
