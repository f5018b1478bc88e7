import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import type { ConnectionOptions, ConnectionState, FieldPacket, PoolOptions, PrepareStatementInfo, Prepare, QueryError, QueryOptions, QueryResult } from 'mysql2';
import type { Pool as PromisePool, PreparedStatementInfo } from 'mysql2/promise';
import { commentMysqlArgs } from './sql-comment.js';
import { DbRouterError } from '../../errors.js';
import { CLOSE_NODE_CONNECTIONS, INTERNALS, NODE_POOL_COUNTS, type ClusterInternals, type HasInternals, type NodePoolCounts } from '../../routing/contracts.js';
import { cutForDownNode } from '../engine.js';
import { Binding, dispatch, finish, leaseFor, prepare, runPrepared, settle as settleRun, started, tagged, type Lease, type NodeRunner } from '../../routing/dispatch.js';
import type { RouteDecision } from '../../routing/decide.js';
import { readOnlyInternals } from '../read-only.js';
import { currentScope } from '../../routing/scopes.js';
import type { NodeInfo } from '../../routing/router.js';
import { loadDriver } from '../driver.js';
import { checkPoolArguments } from '../pool-options.js';
import { mysqlPoolConfig } from './config.js';
import { ownWritePosition, trackLastGtid } from './positions.js';
import { PAUSE_ROWS, RoutedQuery, type CoreConnectionLike, type MysqlLease, type MysqlCallback, type MysqlQuery, type MysqlResult, type QuerySource } from './query.js';
import { END_TIMEOUT_MILLIS, endWithin } from '../bounds.js';
import { configOptions, datesInTimezone, statementOptions } from './query-options.js';

export type { MysqlResult } from './query.js';
export { RoutedQuery, type MysqlCallback, type MysqlQuery } from './query.js';

/** The part of a `mysql2/promise` pool connection dbrouter uses. */
export interface MysqlConnectionLike {
  /** Runs one statement (text protocol) on this connection. */
  query(sql: unknown, values?: unknown): Promise<MysqlResult>;
  /** Runs one statement as a server-side prepared statement on this connection. */
  execute(sql: unknown, values?: unknown): Promise<MysqlResult>;
  /** Gives the connection back to its pool. */
  release(): void;
  /** Closes the connection instead of reusing it (after a connection error or a stream stopped early). */
  destroy?(): void;
  /** A server-side prepared statement on this physical connection (a routed connection's `prepare()`). */
  prepare?(options: string | QueryOptions): Promise<PreparedStatementInfo>;
  /** COM_RESET_CONNECTION (a routed connection's `reset()`). */
  reset?(): Promise<void>;
  /** mysql2's core connection, an EventEmitter. */
  readonly connection?: EventEmitter;
}

/** The part of a `mysql2/promise` Pool dbrouter uses: a real one, or a fake in tests. */
export interface MysqlPoolLike {
  /** One statement on a connection of this node's pool (the routed pool's one-shot reads and writes). */
  query(sql: unknown, values?: unknown): Promise<MysqlResult>;
  /** The same as a server-side prepared statement. */
  execute(sql: unknown, values?: unknown): Promise<MysqlResult>;
  /** Checks out a connection of this node (transactions, session state, streams). */
  getConnection(): Promise<MysqlConnectionLike>;
  /** Closes every connection of this node's pool; called once by the routed pool's `end()`. */
  end(): Promise<void>;
  /** mysql2's core (callback) pool, an EventEmitter. */
  readonly pool?: EventEmitter;
}

/**
 * Options of {@link createMysqlPool}. All optional: `createMysqlPool(cluster)` opens one mysql2 pool
 * per node, lazily, sized by the cluster's `pool` settings. Unknown keys throw `CONFIG_INVALID`.
 *
 * @example
 *   const pool = createMysqlPool(cluster, { onConnect: ["SET time_zone = '+00:00'"] });
 */
export interface RoutedMysqlPoolOptions {
  /**
   * Makes the real pool of one node from its mysql2 options and alias; default `mysql2/promise`
   * `createPool(config)`. Called once per node, on the first statement that goes there.
   */
  readonly createPool?: (config: PoolOptions, alias: string) => MysqlPoolLike;
  /** Send every statement to this alias (what `cluster.migrate()` uses). */
  readonly pinned?: string;
  /**
   * Statements run on every new physical connection of every node before anything else runs on
   * it (mysql2 queues them first), e.g. `["SET time_zone = '+00:00'"]`. Set-up here is not session
   * state: it does not bind a connection to the primary. Added to the cluster's own `onConnect`.
   */
  readonly onConnect?: readonly string[];
  /**
   * mysql2 options applied to every statement (mysql2 takes them per query): `typeCast`,
   * `timezone`, `dateStrings`, `supportBigNumbers`, `bigNumberStrings`, `nestTables`,
   * `rowsAsArray`. What a driver module's `createPool(config)` keeps of the config an ORM hands it.
   */
  readonly queryOptions?: Readonly<Record<string, unknown>>;
  /**
   * mysql2's `multipleStatements` on this pool's connections to every node, so that
   * `query('SELECT 1; SELECT 2')` returns both results (what a driver module's `createPool` or
   * `createConnection` does with `{ multipleStatements: true }`). Text with several statements
   * always runs on the primary. Default: the database's own `driverOptions` (off in mysql2).
   */
  readonly multipleStatements?: boolean;
  /**
   * A read-only pool: a statement that changes data or schema, takes a lock writers wait on, or
   * that the classifier cannot vouch for is refused with `READ_ONLY` before it reaches any
   * server, on the pool, its checked-out clients and its streams (the rule of `cluster.readOnly()`).
   * Reads are routed as on any pool (to the primary when consistency needs it); transactions,
   * savepoints, cursors and session settings run.
   */
  readonly readOnly?: boolean;
}

/** The mysql2 settings that are also per-query options, kept from an ORM's config by the driver module. */
export const QUERY_OPTION_KEYS = ['typeCast', 'timezone', 'dateStrings', 'supportBigNumbers', 'bigNumberStrings', 'nestTables', 'rowsAsArray', 'decimalNumbers', 'jsonStrings', 'namedPlaceholders'] as const;

/** Whether a statement sets mysql2's `namedPlaceholders` itself (it then wins over any config). */
function ownsNamedPlaceholders(input: unknown): boolean {
  return typeof input === 'object' && input !== null && (input as { namedPlaceholders?: unknown }).namedPlaceholders !== undefined;
}

/** `input` with mysql2's `namedPlaceholders` set to `value`. */
function withNamedPlaceholders(input: unknown, value: unknown): unknown {
  return typeof input === 'string' ? { sql: input, namedPlaceholders: value } : { ...(input as object), namedPlaceholders: value };
}

/** A copy of mysql2 connection settings that keeps the password non-enumerable. */
function copyConfig(c: ConnectionOptions): ConnectionOptions {
  return Object.defineProperties({}, Object.getOwnPropertyDescriptors(c));
}

/**
 * Session settings that only shape how a connection reads and writes values, which replicas
 * accept: ORMs send them on connect (Sequelize's `SET time_zone`). One or more `name = literal`
 * assignments (or `NAMES cs [COLLATE c]`), nothing computed, no user variables.
 */
const PORTABLE_SET = /^\s*SET\s+(?:(?:SESSION\s+|@@SESSION\.|@@)?(?:time_zone|sql_mode|character_set_(?:client|connection|results)|collation_connection|lc_time_names|group_concat_max_len|div_precision_increment|max_statement_time|max_execution_time)\s*=\s*(?:'[^'\\]*'|"[^"\\]*"|[\w+.:-]+)|NAMES\s+(?:'\w+'|\w+)(?:\s+COLLATE\s+(?:'\w+'|\w+))?)(?:\s*,\s*(?:(?:SESSION\s+|@@SESSION\.|@@)?(?:time_zone|sql_mode|character_set_(?:client|connection|results)|collation_connection|lc_time_names|group_concat_max_len|div_precision_increment|max_statement_time|max_execution_time)\s*=\s*(?:'[^'\\]*'|"[^"\\]*"|[\w+.:-]+)))*\s*;?\s*$/i;

/**
 * Whether `sql` is a session setting that may apply on every node: one or more `name = literal`
 * assignments of `time_zone`, `sql_mode`, `character_set_client|connection|results`,
 * `collation_connection`, `lc_time_names`, `group_concat_max_len`, `div_precision_increment`,
 * `max_statement_time` or `max_execution_time`, or `SET NAMES cs [COLLATE c]`; nothing computed, no
 * user variables. A routed connection replays such a setting on every node instead of binding to
 * the primary.
 *
 * @example
 * ```ts
 * isPortableSet("SET time_zone = '+00:00'") // true
 * isPortableSet('SET @x = 1')               // false: a user variable is state of one connection
 * ```
 */
export function isPortableSet(sql: string): boolean {
  return PORTABLE_SET.test(sql);
}

/** How many distinct session set-ups one pool keeps node pools for before binding to the primary as before. */
const MAX_SESSION_FLAVOURS = 8;

/** mysql2's core `pool.config`: its limits, and the connection settings as `connectionConfig`. */
export type MysqlPoolConfig = PoolOptions & {
  /** The primary's connection settings (host, port, user, database, …; the password not enumerable). */
  readonly connectionConfig: ConnectionOptions;
};

/** A statement as mysql2 takes it: text, or an options object with `sql`. */
export type MysqlQueryInput = string | QueryOptions | {
  /** The SQL text: what routing classifies. */
  readonly sql: string;
  /** As mysql2's `values`: what fills the `?` placeholders (never classified, logged or shown). */
  readonly values?: unknown;
  readonly [k: string]: unknown;
};
type Method = 'query' | 'execute';
type Args = readonly [Method, unknown, unknown];
type Callback = MysqlCallback;
/** The callback of `beginTransaction`, `commit`, `rollback`, `ping` and `end` in mysql2's callback form: `err` set on failure. */
export type MysqlDoneCallback = (err: Error | null) => void;
/** What mysql2's promise API resolves to: `[rows or OkPacket, fields]`, `T` the caller's claim about the rows. */
export type MysqlPromiseResult<T extends QueryResult> = [T, FieldPacket[]];
/** mysql2's core `prepare(sql, cb)` callback. */
export type MysqlPrepareCallback = (err: QueryError | null, statement: PrepareStatementInfo) => unknown;
/** mysql2's core connection, as far as a routed connection's `prepare`/`unprepare` reach it. */
interface CorePrepare {
  prepare(sql: string | QueryOptions, cb: (err: QueryError | null, statement: PrepareStatementInfo) => void): unknown;
  unprepare(sql: string | QueryOptions): unknown;
}

function unsupported(what: string, why: string): DbRouterError {
  return new DbRouterError('UNSUPPORTED', `${what}: ${why}`);
}

/** mysql2's core (callback) pool, under its promise pool's `.pool`. */
interface CorePool {
  query(sql: string, values: unknown, cb: (err: Error | null, rows: unknown, fields: unknown) => void): void;
  execute(sql: string, values: unknown, cb: (err: Error | null, rows: unknown, fields: unknown) => void): void;
}

const QUERY = Symbol('dbrouter.mysql.query');
const WITH_OPTIONS = Symbol('dbrouter.mysql.withOptions');
const WITH_DATES = Symbol('dbrouter.mysql.withDates');

/** mysql2's `raw`, for dates written as SQL literals (see `datesInTimezone`). */
function rawLiteral(sql: string): unknown {
  return loadDriver<{ raw(s: string): unknown }>('mysql2').raw(sql);
}

/**
 * `[input, values]` with their dates written in `timezone` (see `datesInTimezone`); unchanged when
 * no timezone was configured, which is the hot path's case.
 */
function withDates(method: Method, input: unknown, values: unknown, timezone: unknown): [unknown, unknown] {
  if (timezone === undefined || timezone === 'local') return [input, values];
  const literal = method === 'query' ? rawLiteral : undefined;
  const own = typeof input === 'object' && input !== null ? (input as { values?: unknown }).values : undefined;
  if (own !== undefined && values === undefined) return [{ ...(input as object), values: datesInTimezone(own, timezone, literal) }, values];
  return [input, datesInTimezone(values, timezone, literal)];
}
const FLAVOUR = Symbol('dbrouter.mysql.flavour');
const ON_NODE = Symbol('dbrouter.mysql.onNode');
const PARTS = Symbol('dbrouter.mysql.parts');
const APPLY_SET = Symbol('dbrouter.mysql.applySet');
/** Marks a physical connection to destroy instead of giving back (a stream stopped early). */
const DESTROY = Symbol('dbrouter.mysql.destroy');
const CONNECTION = Symbol('dbrouter.mysql.connection');
const CONFIG = Symbol('dbrouter.mysql.config');
const POOL_EVENT = Symbol('dbrouter.mysql.poolEvent');
/** The pool events of mysql2 a routed pool passes on from its node pools. */
const POOL_EVENTS = ['connection', 'acquire', 'release', 'enqueue'] as const;
type PoolEvent = (typeof POOL_EVENTS)[number];

function textOf(input: unknown): string {
  if (typeof input === 'string') return input;
  if (typeof input === 'object' && input !== null && typeof (input as { sql?: unknown }).sql === 'string') return (input as { sql: string }).sql;
  throw new TypeError('query() takes SQL text or an options object with a `sql` property');
}

function released(): DbRouterError {
  return new DbRouterError('CLIENT_RELEASED', 'This connection was released to the pool; check out a new one with getConnection().');
}

function ended(): DbRouterError {
  return new DbRouterError('POOL_ENDED', 'Cannot use a pool after calling end() on it; create a new pool with createMysqlPool(cluster).');
}

/** Splits `(sql, values?, cb?)` / `(sql, cb)` as mysql2 accepts them. */
function split(values: unknown, cb: unknown): [unknown, Callback | undefined] {
  if (typeof values === 'function') return [undefined, values as Callback];
  return [values, typeof cb === 'function' ? (cb as Callback) : undefined];
}

/** A promise, or mysql2's `(err) => void` callback form of the same call. */
function callbackOr<T>(p: Promise<T>, cb: unknown): Promise<T> | undefined {
  if (typeof cb !== 'function') return p;
  p.then(() => (cb as MysqlDoneCallback)(null), (e: Error) => (cb as MysqlDoneCallback)(e));
  return undefined;
}

function mysqlModule(): MysqlModule {
  return loadDriver<MysqlModule>('mysql2');
}

interface MysqlModule {
  escape(v: unknown): string;
  escapeId(v: unknown, forbidQualified?: boolean): string;
  format(s: string, v?: unknown): string;
}

/** The lease of the routing core, as a {@link RoutedQuery} runs on it. */
function asMysqlLease(lease: Pick<Lease<MysqlConnectionLike>, 'conn' | 'done'>, runner: NodeRunner<Args, MysqlResult, MysqlConnectionLike>, args: Args): MysqlLease {
  const core = lease.conn.connection as Partial<CoreConnectionLike> | undefined;
  return {
    core: typeof core?.query === 'function' ? (core as CoreConnectionLike) : undefined,
    run: () => runner.queryOn(lease.conn, args),
    done: (err, early) => lease.done(err, early),
  };
}

/**
 * A `mysql2/promise` Pool that routes: reads to replicas, writes to the primary, under any code
 * that takes a mysql2 pool. It also answers mysql2's callback forms (`getConnection(cb)`,
 * `query(sql, values, cb)`, `end(cb)`), so Kysely's `MysqlDialect` takes it directly, as does
 * Drizzle's `drizzle(pool)` from `drizzle-orm/mysql2`. Each node has its own real pool inside.
 *
 * @example
 *   const pool = createMysqlPool(cluster);
 *   const [rows] = await pool.query('SELECT * FROM users WHERE id = ?', [1]);
 */
export class RoutedMysqlPool extends EventEmitter {
  readonly #cx: ClusterInternals;
  readonly #create: (config: PoolOptions, alias: string) => MysqlPoolLike;
  readonly #inner: (MysqlPoolLike | undefined)[];
  readonly #core: (CorePool | undefined)[] = [];
  /** Sockets of each node's connected connections, idle or in use (see `CLOSE_NODE_CONNECTIONS`). */
  readonly #open: Set<Socketed>[] = [];
  readonly #runner: NodeRunner<Args, MysqlResult, MysqlConnectionLike>;
  readonly #pinnedAlias: string | undefined;
  #ended = false;
  #ending: Promise<void> | undefined;
  #callbackPool: RoutedMysqlCallbackPool | undefined;
  readonly #cluster: HasInternals;
  readonly #options: RoutedMysqlPoolOptions;
  readonly #onConnect: readonly string[];
  readonly #queryOptions: Readonly<Record<string, unknown>> | undefined;
  readonly #flavours = new Map<string, RoutedMysqlPool>();
  /** `pool.config` as handed out (see `CONFIG`), and the primary it describes. */
  #config: { readonly alias: string; readonly value: MysqlPoolConfig } | undefined;

  // mysql2's typings declare its promise Pool as a Connection. On a real `mysql2/promise` pool
  // these members are `undefined` at run time, and so they are here: whatever compiles against
  // mysql2's Pool type compiles against this one and fails the same way (the surface test checks
  // each against a real mysql2 pool). A connection's own are on `getConnection()`'s connection.
  /** `undefined` at run time, as on a `mysql2/promise` pool. */
  declare readonly config: ConnectionOptions;
  /** `undefined` at run time, as on a `mysql2/promise` pool. */
  declare readonly threadId: number;
  /** `undefined` at run time, as on a `mysql2/promise` pool. */
  declare readonly state: ConnectionState;
  /** `undefined` at run time, as on a `mysql2/promise` pool. */
  declare readonly connect: () => Promise<void>;
  /** `undefined` at run time, as on a `mysql2/promise` pool. */
  declare readonly ping: () => Promise<void>;
  /** `undefined` at run time, as on a `mysql2/promise` pool. */
  declare readonly reset: () => Promise<void>;
  /** `undefined` at run time, as on a `mysql2/promise` pool: transactions run on `getConnection()`. */
  declare readonly beginTransaction: () => Promise<void>;
  /** `undefined` at run time, as on a `mysql2/promise` pool. */
  declare readonly commit: () => Promise<void>;
  /** `undefined` at run time, as on a `mysql2/promise` pool. */
  declare readonly rollback: () => Promise<void>;
  /** `undefined` at run time, as on a `mysql2/promise` pool. */
  declare readonly changeUser: (options: ConnectionOptions) => Promise<void>;
  /** `undefined` at run time, as on a `mysql2/promise` pool: prepare on `getConnection()`, or use `execute()`. */
  declare readonly prepare: (options: string | QueryOptions) => Promise<PreparedStatementInfo>;
  /** `undefined` at run time, as on a `mysql2/promise` pool. */
  declare readonly unprepare: (sql: string | QueryOptions) => void;
  /** `undefined` at run time, as on a `mysql2/promise` pool. */
  declare readonly destroy: () => void;
  /** `undefined` at run time, as on a `mysql2/promise` pool. */
  declare readonly pause: () => void;
  /** `undefined` at run time, as on a `mysql2/promise` pool. */
  declare readonly resume: () => void;

  /**
   * The same as {@link createMysqlPool}. Throws `CONFIG_INVALID` for anything but a cluster or an
   * unknown option, `ENGINE_MISMATCH` for a PostgreSQL cluster, and `DRIVER_MISSING` when `mysql2`
   * is not installed and no `createPool` is given.
   */
  constructor(cluster: HasInternals, options: RoutedMysqlPoolOptions = {}) {
    super();
    checkPoolArguments('createMysqlPool', cluster, INTERNALS, options);
    this.#cluster = cluster;
    this.#options = options;
    this.#onConnect = options.onConnect ?? [];
    this.#queryOptions = options.queryOptions !== undefined && Object.keys(options.queryOptions).length > 0 ? statementOptions(options.queryOptions) : undefined;
    this.#cx = options.readOnly === true ? readOnlyInternals(cluster[INTERNALS]) : cluster[INTERNALS];
    if (this.#cx.engine.name !== 'mysql') {
      throw new DbRouterError('ENGINE_MISMATCH', `createMysqlPool() needs a MySQL/MariaDB cluster, but this one is ${this.#cx.engine.name}; use createPgPool(cluster).`);
    }
    // Without a createPool of the caller's, the driver is needed: DRIVER_MISSING here, not at the first query.
    if (options.createPool === undefined) loadDriver('mysql2/promise');
    this.#create = options.createPool ?? defaultCreate;
    this.#inner = this.#cx.nodes.map(() => undefined);
    if (options.pinned !== undefined && !this.#cx.nodes.some((n) => n.alias === options.pinned)) {
      throw new DbRouterError('UNKNOWN_ALIAS', `pinned: no database "${options.pinned}" in this cluster (known: ${this.#cx.nodes.map((n) => n.alias).join(', ')}).`);
    }
    this.#pinnedAlias = options.pinned;
    this.#runner = {
      query: (i, a) => (a[0] === 'query' ? this.#pool(i).query(a[1], a[2]) : this.#pool(i).execute(a[1], a[2])),
      acquire: (i) => this.#acquire(i),
      queryOn: (c, a) => (a[0] === 'query' ? c.query(a[1], a[2]) : c.execute(a[1], a[2])),
      comment: commentMysqlArgs,
      release: (c, err) => this.#releaseInner(c, err),
      rows: async (i, sql) => (await this.#pool(i).query(sql))[0] as Record<string, unknown>[],
      position: (result) => ownWritePosition(result[0]),
    };
    this.#cx.track(this);
  }

  #pool(index: number): MysqlPoolLike {
    const existing = this.#inner[index];
    if (existing !== undefined) return existing;
    const node = this.#cx.nodes[index]!;
    const config = mysqlPoolConfig(node.connection);
    if (this.#options.multipleStatements !== undefined) config.multipleStatements = this.#options.multipleStatements;
    const p = this.#create(config, node.alias);
    // First, so that an onConnect statement that sets what the session tracks has the last word.
    p.pool?.on('connection', trackLastGtid);
    const setup = [...(this.#cx.onConnect ?? []), ...this.#onConnect];
    if (setup.length > 0) {
      // mysql2 runs a connection's commands in order: these go before the statement that asked
      // for the connection. A connection whose set-up failed is not handed on half set up.
      p.pool?.on('connection', (conn: CoreConnectionLike & { destroy?(): void }) => {
        for (const sql of setup) {
          conn.query(sql, (err: Error | null) => {
            if (err === null) return;
            conn.destroy?.();
            this.#background(new DbRouterError('CONFIG_INVALID', `onConnect statement failed on "${node.alias}" (${err.message}); the connection was closed. Fix the statement in onConnect.`, { cause: err }));
          });
        }
      });
    }
    // A mysql2 promise pool is driven through its core callback pool on the hot path: mysql2's
    // promise API captures a stack trace per query, a quarter of a loopback round trip.
    const core = p.pool as Partial<CorePool> | undefined;
    this.#core[index] = typeof core?.query === 'function' && typeof core.execute === 'function' ? (core as CorePool) : undefined;
    p.pool?.on('error', (err: unknown) => this.#background(err));
    for (const event of POOL_EVENTS) p.pool?.on(event, (conn: unknown) => this[POOL_EVENT](event, conn));
    // mysql2's 'connection' comes once a connection has connected (a connection still connecting is
    // left out: cutting it would fail a statement that never reached the server as if it had).
    const open = new Set<Socketed>();
    this.#open[index] = open;
    p.pool?.on('connection', (conn: { stream?: Socketed['stream'] }) => {
      const stream = conn.stream;
      if (stream === undefined) return;
      const entry = { stream };
      open.add(entry);
      stream.once('close', () => open.delete(entry));
    });
    this.#inner[index] = p;
    return p;
  }

  #background(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else this.#cx.backgroundError(err);
  }

  /**
   * @internal A node pool's `'connection'`/`'acquire'`/`'release'`/`'enqueue'`, on this pool and
   * its callback face, with that node's physical (core) connection: `pool.on('connection', (c) =>
   * c.query('SET ...'))` sets up every new connection of every node, as on a mysql2 pool.
   */
  [POOL_EVENT](event: PoolEvent, conn: unknown): void {
    if (event === 'enqueue') {
      this.emit(event);
      this.#callbackPool?.emit(event);
      return;
    }
    this.emit(event, conn);
    this.#callbackPool?.emit(event, conn);
  }

  async #acquire(index: number): Promise<MysqlConnectionLike> {
    const c = await this.#pool(index).getConnection();
    const onError = (err: unknown) => this.#background(err);
    (c as { [ON_ERROR]?: typeof onError })[ON_ERROR] = onError;
    c.connection?.on('error', onError);
    return c;
  }

  #releaseInner(c: MysqlConnectionLike, err?: unknown): void {
    const onError = (c as { [ON_ERROR]?: (err: unknown) => void })[ON_ERROR];
    if (onError !== undefined) c.connection?.removeListener('error', onError);
    if (((err !== undefined && err !== false) || (c as { [DESTROY]?: boolean })[DESTROY] === true) && c.destroy !== undefined) c.destroy();
    else c.release();
  }

  #pinned(): NodeInfo | undefined {
    return this.#pinnedAlias === undefined ? undefined : this.#cx.node(this.#pinnedAlias);
  }

  /**
   * `pool.query(sql, values?)` as mysql2/promise; with a callback as mysql2's callback API, which
   * returns mysql2's `Query` (a {@link RoutedQuery}: events, `.stream()`). The callback-first
   * pool that mysql2's `createPool` returns is {@link RoutedMysqlPool.pool}.
   */
  query(sql: MysqlQueryInput, callback: Callback): MysqlQuery;
  query(sql: MysqlQueryInput, values: unknown, callback: Callback): MysqlQuery;
  query<T extends QueryResult = QueryResult>(sql: MysqlQueryInput, values?: unknown): Promise<MysqlPromiseResult<T>>;
  query(sql: MysqlQueryInput, values?: unknown, callback?: unknown): Promise<MysqlResult> | MysqlQuery {
    if (callback === undefined && typeof values !== 'function' && typeof sql === 'string') {
      // The hot path, inline: the node pool is called from this frame, since mysql2 captures a
      // stack trace per query and every frame under it costs (see `settle` in routing/dispatch).
      const cx = this.#cx;
      if (!this.#ended && cx.isReady && this.#pinnedAlias === undefined && this.#queryOptions === undefined && this.#config?.value.connectionConfig.namedPlaceholders === undefined) {
        let d: RouteDecision | Promise<RouteDecision>;
        try {
          d = prepare(cx, this.#runner, sql, cx.route(sql));
        } catch (e) {
          return Promise.reject(e instanceof Error ? e : new Error(String(e)));
        }
        if (d instanceof Promise) return d.then((f) => runPrepared(cx, this.#runner, sql, ['query', sql, values] as const, f));
        return this.#fast('query', sql, values, d);
      }
    }
    const [v, cb] = split(values, callback);
    return cb === undefined ? this.#run('query', sql, v) : this[QUERY]('query', sql, v, cb);
  }

  /** `pool.execute(sql, values?)`: a server-side prepared statement, as mysql2/promise (with a callback: a {@link RoutedQuery}). */
  execute(sql: MysqlQueryInput, callback: Callback): MysqlQuery;
  execute(sql: MysqlQueryInput, values: unknown, callback: Callback): MysqlQuery;
  execute<T extends QueryResult = QueryResult>(sql: MysqlQueryInput, values?: unknown): Promise<MysqlPromiseResult<T>>;
  execute(sql: MysqlQueryInput, values?: unknown, callback?: unknown): Promise<MysqlResult> | MysqlQuery {
    if (callback === undefined && typeof values !== 'function' && typeof sql === 'string') {
      const cx = this.#cx;
      if (!this.#ended && cx.isReady && this.#pinnedAlias === undefined && this.#queryOptions === undefined && this.#config?.value.connectionConfig.namedPlaceholders === undefined) {
        let d: RouteDecision | Promise<RouteDecision>;
        try {
          d = prepare(cx, this.#runner, sql, cx.route(sql));
        } catch (e) {
          return Promise.reject(e instanceof Error ? e : new Error(String(e)));
        }
        if (d instanceof Promise) return d.then((f) => runPrepared(cx, this.#runner, sql, ['execute', sql, values] as const, f));
        return this.#fast('execute', sql, values, d);
      }
    }
    const [v, cb] = split(values, callback);
    return cb === undefined ? this.#run('execute', sql, v) : this[QUERY]('execute', sql, v, cb);
  }

  /** @internal mysql2's callback-API query: a {@link RoutedQuery} over this pool's routing. */
  [QUERY](method: Method, input: MysqlQueryInput, values: unknown, cb: Callback | undefined): RoutedQuery {
    let sql: string;
    try {
      sql = textOf(input);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      return new RoutedQuery('', input, values, { method, run: () => Promise.reject(err), lease: () => Promise.reject(err) }, cb);
    }
    const [withOpts, dated] = this[WITH_DATES](method, this[WITH_OPTIONS](input), values);
    const args: Args = [method, withOpts, dated];
    const source: QuerySource = {
      method,
      run: () => this.#run(method, input, values),
      lease: () => {
        if (this.#ended) return Promise.reject(ended());
        return leaseFor(this.#cx, this.#runner, sql, this.#pinnedAlias === undefined ? undefined : this.#pinned()).then((l) => asMysqlLease(l, this.#runner, args));
      },
    };
    return new RoutedQuery(sql, args[1], values, source, cb);
  }

  /** @internal The statement with this pool's per-query mysql2 options (the statement's own win). */
  [WITH_OPTIONS](input: unknown): unknown {
    const o = this.#queryOptions;
    const named = this.#config?.value.connectionConfig.namedPlaceholders;
    const out = o === undefined ? input : typeof input === 'string' ? { ...o, sql: input } : { ...o, ...(input as object) };
    return named === undefined || ownsNamedPlaceholders(input) ? out : withNamedPlaceholders(out, named);
  }

  /** @internal `[input, values]` with dates in this pool's configured timezone (see `datesInTimezone`). */
  [WITH_DATES](method: Method, input: unknown, values: unknown): [unknown, unknown] {
    return withDates(method, input, values, this.#queryOptions?.timezone);
  }

  /**
   * A pool of the same nodes whose every physical connection also runs `statements` on connect:
   * where a connection goes once it set a portable session setting, so that setting applies on
   * replicas too and the connection is not pinned to the primary. `undefined` past
   * `MAX_SESSION_FLAVOURS` (8) distinct set-ups.
   *
   * @internal
   */
  [FLAVOUR](statements: readonly string[]): RoutedMysqlPool | undefined {
    const key = statements.join('\n');
    let p = this.#flavours.get(key);
    if (p === undefined) {
      if (this.#flavours.size >= MAX_SESSION_FLAVOURS || this.#ended) return undefined;
      p = new RoutedMysqlPool(this.#cluster, { ...this.#options, onConnect: [...this.#onConnect, ...statements] });
      const flavour = p;
      for (const event of POOL_EVENTS) flavour.on(event, (conn: unknown) => {
        if (this.listenerCount(event) > 0 || (this.#callbackPool?.listenerCount(event) ?? 0) > 0) this[POOL_EVENT](event, conn);
      });
      this.#flavours.set(key, p);
    }
    return p;
  }

  /** @internal Runs one statement on a node of this pool, outside any routing (a session setting's check). */
  [ON_NODE](index: number, sql: string): Promise<MysqlResult> {
    return this.#pool(index).query(sql);
  }

  #fast(method: Method, sql: string, values: unknown, d: RouteDecision): Promise<MysqlResult> {
    const cx = this.#cx;
    const runner = this.#runner;
    const p = this.#pool(d.node.index);
    const core = this.#core[d.node.index];
    // What the node gets: with sqlComment on, the text ends with where and why (a retry starts from `sql`).
    const sent = cx.sqlComment === undefined ? sql : tagged(cx, runner, [method, sql, values] as const, d.node, d.reason, d.classification)[1] as string;
    const t0 = started(cx, d);
    const args = [method, sql, values] as const;
    if (core === undefined || t0 !== 0) return settleRun({ cx, runner, sql, args, decision: d, t0 }, method === 'query' ? p.query(sent, values) : p.execute(sent, values));
    const frame = currentScope();
    return new Promise<MysqlResult>((resolve, reject) => {
      const s = { cx, runner, sql, args, decision: d, t0, frame, resolve, reject };
      core[method](sent, values, (err, rows, fields) => finish(s, err, [rows, fields]));
    });
  }

  // Not async: on the hot path each extra async layer costs a measurable share of a round trip.
  #run(method: Method, input: unknown, values: unknown): Promise<MysqlResult> {
    if (this.#ended) return Promise.reject(ended());
    const cx = this.#cx;
    if (!cx.isReady) return cx.ready().then(() => this.#run(method, input, values));
    try {
      const sql = textOf(input);
      [input, values] = this[WITH_DATES](method, this[WITH_OPTIONS](input), values);
      const pinned = this.#pinnedAlias === undefined ? undefined : this.#pinned();
      const d = pinned !== undefined ? { node: pinned, reason: 'pinned', classification: cx.classify(sql), write: true } : cx.route(sql);
      return dispatch(cx, this.#runner, sql, [method, input, values] as const, d);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /**
   * Checks out a connection (promise, or mysql2's callback form). It binds lazily: reads run on
   * replicas until it writes, opens a transaction or changes session state; from then on it holds
   * a primary connection until `release()`.
   */
  getConnection(): Promise<RoutedMysqlConnection>;
  getConnection(callback: (err: Error | null, connection: RoutedMysqlConnection) => void): void;
  getConnection(callback?: (err: Error | null, connection: RoutedMysqlConnection) => void): Promise<RoutedMysqlConnection> | undefined {
    const p = this.#getConnection();
    if (callback === undefined) return p;
    p.then((c) => callback(null, c), (e: Error) => callback(e, undefined as unknown as RoutedMysqlConnection));
    return undefined;
  }

  #getConnection(): Promise<RoutedMysqlConnection> {
    if (this.#ended) return Promise.reject(ended());
    if (!this.#cx.isReady) return this.#cx.ready().then(() => this.#getConnection());
    try {
      return Promise.resolve(this[CONNECTION]());
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** @internal A lazily binding connection over this pool's routing (what `getConnection` hands out). */
  [CONNECTION](): RoutedMysqlConnection {
    return new RoutedMysqlConnection(this);
  }

  /** @internal A fresh binding over this pool's nodes, and how a streamed statement borrows its connection. */
  [PARTS](holdAfterWrite = true): { binding: Binding<Args, MysqlResult, MysqlConnectionLike>; lease: LeaseFn } {
    const lease = (sql: string, binding: Binding<Args, MysqlResult, MysqlConnectionLike>, args: Args) =>
      binding.stream(sql).then((s) => {
        // A free connection's read streams on a connection of its own: after an early stop it is
        // destroyed (rows may still be on the wire). A bound one's drains in the background.
        const own = binding.boundAlias === undefined;
        return asMysqlLease({
          conn: s.conn,
          done: (err, early) => {
            if (early === true && own) (s.conn as { [DESTROY]?: boolean })[DESTROY] = true;
            s.done(err);
            return undefined;
          },
        }, this.#runner, args);
      });
    return { binding: new Binding(this.#cx, this.#runner, this.#pinned(), holdAfterWrite ? undefined : { holdAfterWrite: false }), lease };
  }

  /**
   * A portable session setting sent by a free connection (see {@link isPortableSet}): runs it on
   * the primary of the pool whose connections all run `settings` on connect, and returns that
   * pool; `undefined` when this pool keeps no more set-ups (the caller binds as before).
   *
   * @internal
   */
  async [APPLY_SET](settings: readonly string[], sql: string): Promise<{ pool: RoutedMysqlPool; result: MysqlResult } | undefined> {
    if (this.#ended) throw ended();
    if (!this.#cx.isReady) await this.#cx.ready();
    const key = settings.join('\n');
    const flavour = this[FLAVOUR](settings);
    if (flavour === undefined) return undefined;
    try {
      return { pool: flavour, result: await flavour[ON_NODE](this.#cx.primary().index, sql) };
    } catch (err) {
      // A setting the server refuses leaves no pool behind that would fail every connection.
      this.#flavours.delete(key);
      await flavour.end().catch(() => {});
      throw err;
    }
  }

  /** mysql2's `releaseConnection(conn)`: the same as `conn.release()`. */
  releaseConnection(connection: { release(): void }): void {
    connection.release();
  }

  /** This pool: it already answers `mysql2/promise`'s API (mysql2's `pool.promise()`). */
  promise(): this {
    return this;
  }

  /**
   * The callback-first face of this pool, as mysql2's core `Pool` (what `mysql2/promise`'s
   * `pool.pool` is): `query()` without a callback returns a {@link RoutedQuery}. Same nodes,
   * same routing, same lifecycle.
   */
  get pool(): RoutedMysqlCallbackPool {
    this.#callbackPool ??= new RoutedMysqlCallbackPool(this);
    return this.#callbackPool;
  }

  /**
   * What mysql2's core `pool.config` holds: the limits and, as `connectionConfig`, the primary's
   * connection settings (the password not enumerable). On the callback face as `config`; the
   * promise face has none, as a `mysql2/promise` pool has none.
   */
  [CONFIG](): MysqlPoolConfig {
    const primary = this.#cx.nodes.find((n) => n.role === 'primary') ?? this.#cx.nodes[0]!;
    const cached = this.#config;
    if (cached !== undefined && cached.alias === primary.alias) return cached.value;
    const connectionConfig = mysqlPoolConfig(primary.connection);
    if (this.#options.queryOptions !== undefined) Object.assign(connectionConfig, configOptions(this.#options.queryOptions));
    // Kept as handed out, so that code setting `pool.config.connectionConfig.namedPlaceholders`
    // after creation (as with mysql2's own pool) has its statements use it; a new primary's
    // settings keep what the caller set.
    if (cached !== undefined) {
      const old = cached.value.connectionConfig as Record<string, unknown>;
      for (const k of QUERY_OPTION_KEYS) if (old[k] !== undefined) (connectionConfig as Record<string, unknown>)[k] = old[k];
    }
    const value = { connectionLimit: connectionConfig.connectionLimit ?? 10, waitForConnections: true, queueLimit: 0, connectionConfig };
    this.#config = { alias: primary.alias, value };
    return value;
  }

  /** Ends every node's pool; idempotent. Afterwards every call rejects with `POOL_ENDED`. */
  end(callback: (err: Error | null) => void): void;
  end(): Promise<void>;
  end(callback?: (err: Error | null) => void): Promise<void> | undefined {
    if (this.#ending === undefined) {
      this.#ended = true;
      this.#cx.untrack(this);
      // Bounded: a server that stopped answering never acknowledges COM_QUIT.
      const all = [...this.#inner.map((p) => (p === undefined ? Promise.resolve() : endWithin(() => p.end(), END_TIMEOUT_MILLIS, () => destroyMysqlConnections(p)))), ...[...this.#flavours.values()].map((p) => p.end())];
      this.#ending = Promise.all(all).then(() => undefined);
    }
    if (callback === undefined) return this.#ending;
    this.#ending.then(() => callback(null), (e: Error) => callback(e));
    return undefined;
  }

  /** True once `end()` was called: every statement after it rejects with `POOL_ENDED`. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * This pool, typed as a `mysql2/promise` Pool.
   *
   * @deprecated The pool itself type-checks as one: `drizzle(createMysqlPool(cluster))`.
   */
  asMysqlPool(): PromisePool {
    return this;
  }

  /** mysql2's `escape`, for code that builds SQL text itself. */
  escape(value: unknown): string {
    return mysqlModule().escape(value);
  }

  /** mysql2's `escapeId`: a quoted identifier. */
  escapeId(value: string | readonly string[], forbidQualified?: boolean): string {
    return mysqlModule().escapeId(value, forbidQualified);
  }

  /** mysql2's `format`: `?` and `??` placeholders filled in. */
  format(sql: string, values?: unknown): string {
    return mysqlModule().format(sql, values);
  }

  /** `await using pool = createMysqlPool(cluster)`: ends the pool (see `end()`) when the scope exits. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.end();
  }

  /**
   * @internal Destroys this pool's connections to node `index` (its health checks failed): their
   * sockets are destroyed with a `NODE_DOWN` error, which mysql2 hands to the statement in flight
   * (a connection error that may have run) before the connection leaves its pool. mysql2's own
   * `destroy()` would not do: it ends the socket politely, and a statement in flight never hears.
   */
  [CLOSE_NODE_CONNECTIONS](index: number, reason: string): number {
    const open = this.#open[index];
    if (open === undefined) return 0;
    const alias = this.#cx.nodes[index]!.alias;
    let n = 0;
    for (const c of open) {
      open.delete(c);
      if (c.stream.destroyed === true) continue;
      c.stream.destroy(cutForDownNode(alias, reason));
      n += 1;
    }
    return n;
  }

  /** @internal Connections per node, for `cluster.poolStats()` (read from mysql2's core pool, which has no public counters). */
  [NODE_POOL_COUNTS](): readonly (NodePoolCounts | undefined)[] {
    return this.#inner.map((p) => {
      const core = p?.pool as { _allConnections?: { length: number }; _freeConnections?: { length: number }; _connectionQueue?: { length: number } } | undefined;
      if (core?._allConnections === undefined) return undefined;
      return { total: core._allConnections.length, idle: core._freeConnections?.length ?? 0, waiting: core._connectionQueue?.length ?? 0 };
    });
  }

  /** What `console.log` and `util.inspect` show: node count and whether it ended, never a URL or a password. */
  [inspect.custom](): string {
    return `RoutedMysqlPool { nodes: ${this.#cx.nodes.length}, ended: ${this.#ended} }`;
  }
}

/**
 * The callback-first face of a {@link RoutedMysqlPool}, as mysql2's core `Pool`: `query()` and
 * `execute()` return a {@link RoutedQuery} with or without a callback (events, `.stream()`; it
 * is also thenable), `getConnection(cb)`, `end(cb)`. `promise()` gives the promise-first pool.
 *
 * @example
 *   const stream = createMysqlPool(cluster).pool.query('SELECT * FROM big').stream();
 */
export class RoutedMysqlCallbackPool extends EventEmitter {
  readonly #pool: RoutedMysqlPool;
  /** In mysql2's typings only: `undefined` on its own core pool at run time, as here. */
  declare readonly unprepare: (sql: string) => PrepareStatementInfo;

  /** @internal The pool's `pool` property makes it: `createMysqlPool(cluster).pool`. */
  constructor(pool: RoutedMysqlPool) {
    super();
    this.#pool = pool;
  }

  /**
   * Routes and runs `sql` (text protocol) as mysql2's callback `pool.query`: the callback gets
   * `(err, rows, fields)`. Returns the {@link RoutedQuery}, which also emits `result`/`fields`/`end`,
   * streams with `.stream()`, and is thenable.
   */
  query(sql: MysqlQueryInput, callback: Callback): MysqlQuery;
  query(sql: MysqlQueryInput, values: unknown, callback: Callback): MysqlQuery;
  query(sql: MysqlQueryInput, values?: unknown): RoutedQuery;
  query(sql: MysqlQueryInput, values?: unknown, callback?: Callback): RoutedQuery {
    const [v, cb] = split(values, callback);
    return this.#pool[QUERY]('query', sql, v, cb);
  }

  /** As `query`, as a server-side prepared statement (mysql2's `pool.execute`). */
  execute(sql: MysqlQueryInput, callback: Callback): MysqlQuery;
  execute(sql: MysqlQueryInput, values: unknown, callback: Callback): MysqlQuery;
  execute(sql: MysqlQueryInput, values?: unknown): RoutedQuery;
  execute(sql: MysqlQueryInput, values?: unknown, callback?: Callback): RoutedQuery {
    const [v, cb] = split(values, callback);
    return this.#pool[QUERY]('execute', sql, v, cb);
  }

  /** Checks out a lazily binding {@link RoutedMysqlConnection} (see the promise pool's `getConnection`). */
  getConnection(callback: (err: Error | null, connection: RoutedMysqlConnection) => void): void {
    this.#pool.getConnection(callback);
  }

  /** mysql2's `pool.releaseConnection(conn)`: the same as `conn.release()`. */
  releaseConnection(connection: { release(): void }): void {
    connection.release();
  }

  /** Ends the pool (see the promise pool's `end()`); without a callback a failure is emitted as `'error'` on the promise pool. */
  end(callback?: (err: Error | null) => void): void {
    if (callback === undefined) this.#pool.end().catch((e: unknown) => this.#pool.emit('error', e));
    else this.#pool.end(callback);
  }

  /** The promise-first pool (mysql2's `pool.promise()`). */
  promise(): RoutedMysqlPool {
    return this.#pool;
  }

  /** mysql2's `pool.config`: the limits and, as `connectionConfig`, the primary's connection settings (the password not enumerable). */
  get config(): MysqlPoolConfig {
    return this.#pool[CONFIG]();
  }

  /** mysql2's `escape`: `value` as an SQL literal. */
  escape(value: unknown): string {
    return this.#pool.escape(value);
  }

  /** mysql2's `escapeId`: a quoted identifier (`forbidQualified`: a dot is not a qualifier). */
  escapeId(value: string | readonly string[], forbidQualified?: boolean): string {
    return this.#pool.escapeId(value, forbidQualified);
  }

  /** mysql2's `format`: `?` and `??` placeholders filled in with escaped values. */
  format(sql: string, values?: unknown): string {
    return this.#pool.format(sql, values);
  }

  /** `using pool = …`: starts `end()` when the scope exits (a failure is emitted as `'error'`). */
  [Symbol.dispose](): void {
    this.end();
  }
}

const ON_ERROR = Symbol('dbrouter.onError');

type LeaseFn = (sql: string, binding: Binding<Args, MysqlResult, MysqlConnectionLike>, args: Args) => Promise<MysqlLease>;

/**
 * A checked-out connection of a {@link RoutedMysqlPool}. It answers both of mysql2's APIs at
 * once: `query()`/`execute()` return a {@link RoutedQuery}, which is mysql2's callback-API
 * `Query` (events, `.stream()`, `setMaxListeners`) and also a thenable of `[rows, fields]`, so
 * `await conn.query(sql)` works as with `mysql2/promise`. `conn.connection` and `conn.promise()`
 * are the connection itself. `beginTransaction`/`commit`/`rollback`/`ping`/`end` take a callback
 * or return a promise.
 *
 * It binds lazily: reads run on replicas until it writes, opens a transaction or changes session
 * state; from then on it holds a primary connection until `release()`.
 */
export class RoutedMysqlConnection extends EventEmitter {
  #binding: Binding<Args, MysqlResult, MysqlConnectionLike>;
  readonly #pool: RoutedMysqlPool;
  #lease: LeaseFn;
  /** Portable session settings this connection sent while free, in order (see {@link isPortableSet}). */
  #settings: readonly string[] = [];
  /** The pool whose connections run `#settings` on connect (the routed pool itself while there are none). */
  #flavour: RoutedMysqlPool;

  readonly #queryOptions: Readonly<Record<string, unknown>> | undefined;
  /** The mysql2 options this connection was made with, shown in its `config` over the primary's settings. */
  readonly #ownConfig: Readonly<Record<string, unknown>> | undefined;
  /** `connection.config` as handed out: its `namedPlaceholders` applies to this connection's statements. */
  #config: ConnectionOptions | undefined;

  /** `queryOptions`: mysql2 per-query options for this connection's statements (a driver module's `createConnection(config)`). */
  readonly #loosen: boolean;
  readonly #open = new Set<RoutedQuery>();
  /** Settles when every statement issued so far has finished (see `#turn`). */
  #tail: Promise<void> = Promise.resolve();
  /** Statements issued and not finished. */
  #pending = 0;
  /** `release()`/`end()` was called: the binding goes back once `#tail` settles. */
  #releasing = false;
  /** `pause()` was called and not yet `resume()`. */
  #paused = false;
  /** The held physical connection whose errors this connection passes on (see `#watch`). */
  #watched: { readonly core: EventEmitter; readonly fn: (err: unknown) => void } | undefined;

  /**
   * `loosen`: a long-lived connection (a driver module's `createConnection`) gives back a primary
   * connection held only for earlier autocommit writes before a plain read (see `Binding.loosen`).
   */
  constructor(pool: RoutedMysqlPool, queryOptions?: Readonly<Record<string, unknown>>, loosen = false) {
    super();
    this.#loosen = loosen;
    this.#pool = pool;
    this.#flavour = pool;
    this.#queryOptions = queryOptions !== undefined && Object.keys(queryOptions).length > 0 ? statementOptions(queryOptions) : undefined;
    this.#ownConfig = queryOptions;
    ({ binding: this.#binding, lease: this.#lease } = pool[PARTS](!loosen));
  }

  /** The portable session settings (Sequelize's `SET time_zone`, ...) this connection applies on every node. */
  get sessionSettings(): readonly string[] {
    return this.#settings;
  }

  /** The alias this connection holds (after a write or a transaction began), if any. */
  get boundAlias(): string | undefined {
    return this.#binding.boundAlias;
  }

  /** mysql2's `PoolConnection.connection` (the core connection): this object, which answers both APIs. */
  get connection(): this {
    return this;
  }

  /** mysql2's `connection.promise()`: this object, which answers both APIs. */
  promise(): this {
    return this;
  }

  /**
   * The primary's connection settings, as mysql2's `connection.config` (the password not
   * enumerable). This connection's own copy: `conn.config.namedPlaceholders = true`, as on a mysql2
   * connection, turns on named placeholders for its later statements.
   */
  get config(): ConnectionOptions {
    this.#config ??= Object.assign(copyConfig(this.#pool[CONFIG]().connectionConfig), configOptions(this.#ownConfig ?? {}));
    return this.#config;
  }

  /** mysql2's connection state: `connected` until released or ended, then `disconnected`. */
  get state(): 'connected' | 'disconnected' {
    return this.#releasing ? 'disconnected' : 'connected';
  }

  /** mysql2's `raw(sql)`: a value `format`/`escape` insert as is. */
  raw(sql: string): unknown {
    return loadDriver<{ raw(s: string): unknown }>('mysql2').raw(sql);
  }

  /**
   * The server thread id of the physical connection this connection holds on the primary, else
   * `null` (typed `number`, as mysql2's): while free its statements run on whichever connection
   * of whichever node they are routed to, and a `KILL QUERY` by this id (Knex's cancel), which
   * dbrouter sends to the primary, must not reach another server's thread of the same number.
   */
  get threadId(): number {
    const held = this.#binding.held;
    const id = held?.node.role === 'primary' ? (held.conn.connection as { threadId?: unknown } | undefined)?.threadId : undefined;
    return (typeof id === 'number' ? id : null) as number;
  }

  /** mysql2's `authorized`: `true`, as every physical connection a routed one uses has passed its handshake. */
  get authorized(): boolean {
    return true;
  }

  /** mysql2's protocol packet counter: `0`, as a routed connection speaks no protocol of its own. */
  get sequenceId(): number {
    return 0;
  }

  /**
   * Runs `sql` (text protocol) where it belongs: a read on a replica while the connection is not
   * bound, anything else on the primary, which binds it. Returns a {@link RoutedQuery}: await it for
   * `[rows, fields]`, or pass a callback `(err, rows, fields)`, or `.stream()` it. A portable `SET`
   * (see {@link isPortableSet}) is replayed on every node instead of binding.
   */
  query(sql: MysqlQueryInput, callback: Callback): MysqlQuery;
  query(sql: MysqlQueryInput, values: unknown, callback: Callback): MysqlQuery;
  query<T extends QueryResult = QueryResult>(sql: MysqlQueryInput, values?: unknown): RoutedQuery<MysqlPromiseResult<T>>;
  query(sql: MysqlQueryInput, values?: unknown, callback?: unknown): RoutedQuery {
    const [v, cb] = split(values, callback);
    return this.#query('query', sql, v, cb);
  }

  /** As `query`, as a server-side prepared statement (prepared on each physical connection it runs on). */
  execute(sql: MysqlQueryInput, callback: Callback): MysqlQuery;
  execute(sql: MysqlQueryInput, values: unknown, callback: Callback): MysqlQuery;
  execute<T extends QueryResult = QueryResult>(sql: MysqlQueryInput, values?: unknown): RoutedQuery<MysqlPromiseResult<T>>;
  execute(sql: MysqlQueryInput, values?: unknown, callback?: unknown): RoutedQuery {
    const [v, cb] = split(values, callback);
    return this.#query('execute', sql, v, cb);
  }

  #query(method: Method, input: MysqlQueryInput, values: unknown, cb: Callback | undefined): RoutedQuery {
    let sql: string;
    try {
      sql = textOf(input);
      if (this.#releasing) throw released();
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      return new RoutedQuery('', input, values, { method, run: () => Promise.reject(err), lease: () => Promise.reject(err) }, cb);
    }
    const ownNamed = ownsNamedPlaceholders(input);
    input = this.#flavour[WITH_OPTIONS](input) as MysqlQueryInput;
    if (this.#queryOptions !== undefined) input = typeof input === 'string' ? { ...this.#queryOptions, sql: input } : { ...this.#queryOptions, ...input };
    const named = this.#config?.namedPlaceholders;
    if (named !== undefined && !ownNamed) input = withNamedPlaceholders(input, named) as MysqlQueryInput;
    const [dInput, dValues] = this.#queryOptions?.timezone !== undefined ? withDates(method, input, values, this.#queryOptions.timezone) : this.#flavour[WITH_DATES](method, input, values);
    const args: Args = [method, dInput, dValues];
    // Where it goes is decided when its turn comes: the statements before it may bind the
    // connection (a temporary table) or move it to another set-up (a portable SET).
    const turn = this.#turn();
    const q = new RoutedQuery(sql, input, values, {
      method,
      run: () => turn.ready.then(() => (this.#isFreeSet(sql) ? this.#applySet(sql, args) : this.#binding.query(sql, args))),
      lease: () => turn.ready.then(() => (this.#isFreeSet(sql) ? Promise.reject(new TypeError('A SET statement has no rows to stream.')) : this.#lease(sql, this.#binding, args))),
    }, cb);
    this.#open.add(q);
    if (this.#paused) q[PAUSE_ROWS](true);
    q.once('end', () => {
      this.#open.delete(q);
      turn.done();
    });
    return q;
  }

  #isFreeSet(sql: string): boolean {
    return this.#binding.boundAlias === undefined && !this.#binding.released && isPortableSet(sql);
  }

  /**
   * The next place in this connection's queue: mysql2 runs a connection's commands one at a time,
   * in the order they were issued (`conn.query(create temporary table); conn.query(insert)`
   * without waiting works), and so does a routed connection. `ready` settles when every command
   * issued before has finished; `done` lets the next one go.
   */
  #turn(): { ready: Promise<void>; done: () => void } {
    const ready = this.#tail;
    let done!: () => void;
    this.#pending++;
    this.#tail = new Promise<void>((resolve) => {
      let called = false;
      done = () => {
        if (called) return;
        called = true;
        this.#pending--;
        this.#watch();
        resolve();
      };
    });
    return { ready, done };
  }

  /** `fn` in its turn (see `#turn`): a transaction statement, a ping, a prepare. */
  #inTurn<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#releasing) return Promise.reject(released());
    const turn = this.#turn();
    const p = turn.ready.then(fn);
    p.then(turn.done, turn.done);
    return p;
  }

  /**
   * Gives the binding back once the statements already issued have run (mysql2 hands a released
   * connection's queued commands to its server all the same); statements issued after this fail
   * with `CLIENT_RELEASED`. Open streams stop now.
   */
  #releaseAfterQueue(err?: Error): void {
    this.#releasing = true;
    this.#closeOpen();
    if (this.#pending === 0) {
      this.#unwatch();
      this.#binding.release(err);
      return;
    }
    void this.#tail.then(() => {
      this.#unwatch();
      if (!this.#binding.released) this.#binding.release(err);
    });
  }

  /**
   * Listens for errors of the physical connection this connection holds (after a write, in a
   * transaction, with session state): when the server closes it (`wait_timeout`, a KILL, a
   * restart) the session is gone, and mysql2 would emit `'error'` on the connection (Knex and
   * Sequelize listen for it to drop the connection). Emitted only to listeners: without one the
   * node pool's own report stands (the pool's `'error'`), and nothing crashes.
   */
  #watch(): void {
    const core = this.#binding.held?.conn.connection;
    if (core === this.#watched?.core) return;
    this.#unwatch();
    if (core === undefined || typeof core.on !== 'function') return;
    const fn = (err: unknown): void => {
      if (this.#binding.held?.conn.connection === core && this.listenerCount('error') > 0) this.emit('error', err);
    };
    core.on('error', fn);
    this.#watched = { core, fn };
  }

  #unwatch(): void {
    const w = this.#watched;
    if (w === undefined) return;
    this.#watched = undefined;
    w.core.removeListener('error', w.fn);
  }

  /** Released or ended: statements still streaming stop, and the connections they hold go back. */
  #closeOpen(): void {
    for (const q of this.#open) q.close();
    this.#open.clear();
  }

  /**
   * A session setting sent while free: this connection moves to node pools whose every physical
   * connection runs its settings on connect, so it keeps reading from replicas with the setting
   * in force there. Past the pool's limit of distinct set-ups it binds to the primary as before.
   */
  async #applySet(sql: string, args: Args): Promise<MysqlResult> {
    const settings = [...this.#settings.filter((s) => s !== sql), sql];
    const applied = await this.#pool[APPLY_SET](settings, sql);
    if (applied === undefined) return this.#binding.query(sql, args);
    if (this.#binding.boundAlias !== undefined || this.#binding.released) {
      // Something bound or released it meanwhile: the statement goes where the connection is.
      return this.#binding.query(sql, args);
    }
    this.#settings = settings;
    this.#flavour = applied.pool;
    ({ binding: this.#binding, lease: this.#lease } = applied.pool[PARTS](!this.#loosen));
    return applied.result;
  }

  /** `START TRANSACTION` on the primary; the connection stays there until released. */
  beginTransaction(): Promise<void>;
  beginTransaction(callback: MysqlDoneCallback): void;
  beginTransaction(callback?: MysqlDoneCallback): Promise<void> | undefined {
    return callbackOr(this.#statement('START TRANSACTION'), callback);
  }

  /** `COMMIT` on the held connection; a callback, or a promise when none is given. */
  commit(): Promise<void>;
  commit(callback: MysqlDoneCallback): void;
  commit(callback?: MysqlDoneCallback): Promise<void> | undefined {
    return callbackOr(this.#statement('COMMIT'), callback);
  }

  /** `ROLLBACK` on the held connection; a callback, or a promise when none is given. */
  rollback(): Promise<void>;
  rollback(callback: MysqlDoneCallback): void;
  rollback(callback?: MysqlDoneCallback): Promise<void> | undefined {
    return callbackOr(this.#statement('ROLLBACK'), callback);
  }

  /** A round trip where the next statement would go (a replica while unbound). */
  ping(): Promise<void>;
  ping(callback: MysqlDoneCallback): void;
  ping(callback?: MysqlDoneCallback): Promise<void> | undefined {
    return callbackOr(this.#statement('SELECT 1'), callback);
  }

  /**
   * A server-side prepared statement, as mysql2's `prepare()`: the promise form resolves to
   * mysql2's `PreparedStatementInfo` (`execute(values)`, `close()`), the callback form calls back
   * with the core one. A statement handle lives on one physical connection, so this binds the
   * connection to the primary first (as a transaction does) and prepares there; every `execute`
   * of it then runs on the primary and sees every write. Inside a read-only transaction on a
   * replica it is refused (`UNSUPPORTED`), and on a read-only
   * pool a write (`READ_ONLY`). `conn.execute(sql, values)` needs no `prepare()`: it
   * prepares on whichever node runs it, and reads stay on replicas.
   */
  prepare(options: string | QueryOptions, callback: MysqlPrepareCallback): Prepare;
  prepare(options: string | QueryOptions): Promise<PreparedStatementInfo>;
  prepare(options: string | QueryOptions, callback?: MysqlPrepareCallback): Prepare | Promise<PreparedStatementInfo> {
    const held = this.#inTurn(() => this.#binding.hold(textOf(options)));
    if (callback === undefined) {
      return held.then(({ conn }) => {
        if (conn.prepare === undefined) throw unsupported('prepare()', 'this node\'s driver has no prepared statements.');
        return conn.prepare(options);
      });
    }
    const command = new RoutedPrepare();
    held.then(({ conn }) => {
      const core = conn.connection as Partial<CorePrepare> | undefined;
      if (typeof core?.prepare !== 'function') throw unsupported('prepare()', 'this node\'s driver has no prepared statements.');
      core.prepare(options, (err, statement) => void callback(err, statement));
    }).catch((err: QueryError) => void callback(err, undefined as unknown as PrepareStatementInfo));
    return command;
  }

  /**
   * mysql2's `unprepare(sql)`: closes the statement prepared for `sql` on the held connection, if
   * any (a free connection holds none). It returns `undefined`, as mysql2's own does (its typings
   * say `PrepareStatementInfo`, kept so that this connection type-checks as mysql2's).
   */
  unprepare(sql: string | QueryOptions): PrepareStatementInfo {
    const core = this.#binding.held?.conn.connection as Partial<CorePrepare> | undefined;
    core?.unprepare?.(sql);
    return undefined as unknown as PrepareStatementInfo;
  }

  /**
   * mysql2's `reset()` (COM_RESET_CONNECTION): a held connection is reset on its server and closed
   * at release instead of going back (its pool's own set-up went with the reset); a free one drops
   * the session settings it had sent (`SET time_zone`, ...). It stays bound where it was.
   */
  reset(): Promise<void>;
  reset(callback: MysqlDoneCallback): void;
  reset(callback?: MysqlDoneCallback): Promise<void> | undefined {
    return callbackOr(this.#inTurn(() => this.#reset()), callback);
  }

  async #reset(): Promise<void> {
    if (this.#binding.released) throw new DbRouterError('CLIENT_RELEASED', 'This connection was released to the pool; check out a new one with getConnection().');
    const held = this.#binding.held;
    if (held === undefined) {
      this.#settings = [];
      this.#flavour = this.#pool;
      ({ binding: this.#binding, lease: this.#lease } = this.#pool[PARTS](!this.#loosen));
      return;
    }
    if (held.conn.reset === undefined) throw unsupported('reset()', 'this node\'s driver cannot reset a connection.');
    (held.conn as { [DESTROY]?: boolean })[DESTROY] = true;
    await held.conn.reset();
  }

  /**
   * Refused with `UNSUPPORTED`: a routed connection's statements run on connections of several
   * nodes, shared with other users of the pool, so there is no one session to switch. Create a
   * cluster (or a pool's `createPool`) with the other user's credentials instead.
   */
  changeUser(options: ConnectionOptions): Promise<void>;
  changeUser(options: ConnectionOptions, callback: MysqlDoneCallback): void;
  changeUser(options: ConnectionOptions, callback?: MysqlDoneCallback): Promise<void> | undefined {
    void options;
    return callbackOr(Promise.reject(unsupported('changeUser()', 'a routed connection runs on connections of several nodes shared with the rest of the pool; create a cluster with the other user\'s credentials instead.')), callback);
  }

  /** Server side of mysql2's protocol (its `createServer`): meaningless on a client connection, `UNSUPPORTED`. */
  serverHandshake(args: unknown): never {
    void args;
    throw serverSide('serverHandshake');
  }

  /** Server side of mysql2's protocol: `UNSUPPORTED`. */
  writeOk(args?: unknown): never {
    void args;
    throw serverSide('writeOk');
  }

  /** Server side of mysql2's protocol: `UNSUPPORTED`. */
  writeError(args?: unknown): never {
    void args;
    throw serverSide('writeError');
  }

  /** Server side of mysql2's protocol: `UNSUPPORTED`. */
  writeEof(warnings?: number, statusFlags?: number): never {
    void warnings;
    void statusFlags;
    throw serverSide('writeEof');
  }

  /** Server side of mysql2's protocol: `UNSUPPORTED`. */
  writeTextResult(rows?: unknown[], columns?: unknown[]): never {
    void rows;
    void columns;
    throw serverSide('writeTextResult');
  }

  /** Server side of mysql2's protocol: `UNSUPPORTED`. */
  writePacket(packet: unknown): never {
    void packet;
    throw serverSide('writePacket');
  }

  async #statement(sql: string): Promise<void> {
    await this.#inTurn(() => this.#binding.query(sql, ['query', sql, undefined]));
  }

  /** Nothing to do: the connection binds on its first statement (mysql2's `connect(cb)`). */
  connect(): Promise<void>;
  connect(callback: MysqlDoneCallback): void;
  connect(callback?: MysqlDoneCallback): Promise<void> | undefined {
    if (callback === undefined) return Promise.resolve();
    // As mysql2's: the callback also gets the connection.
    process.nextTick(() => (callback as (err: null, conn: this) => void)(null, this));
    return undefined;
  }

  /**
   * As mysql2's: stops the rows of this connection's statements that stream them (a `'result'`
   * listener, `.stream()`) until `resume()`, by pausing the physical connections they run on. The
   * pattern `query.on('result', (row) => { conn.pause(); work(row, () => conn.resume()); })`.
   */
  pause(): void {
    this.#paused = true;
    for (const q of this.#open) q[PAUSE_ROWS](true);
  }

  /** Lets the rows that `pause()` stopped flow again. */
  resume(): void {
    this.#paused = false;
    for (const q of this.#open) q[PAUSE_ROWS](false);
  }

  /** mysql2's `escape`: `value` as an SQL literal. */
  escape(value: unknown): string {
    return this.#pool.escape(value);
  }

  /** mysql2's `escapeId`: a quoted identifier (`forbidQualified`: a dot is not a qualifier). */
  escapeId(value: string | readonly string[], forbidQualified?: boolean): string {
    return this.#pool.escapeId(value, forbidQualified);
  }

  /** mysql2's `format`: `?` and `??` placeholders filled in with escaped values. */
  format(sql: string, values?: unknown): string {
    return this.#pool.format(sql, values);
  }

  /**
   * Gives the connection back. Statements issued before it still run, in order (as on mysql2);
   * statements issued after it fail with `CLIENT_RELEASED`, and so does a second call.
   */
  release(): void {
    if (this.#releasing) throw released();
    this.#releaseAfterQueue();
  }

  /**
   * mysql2's `end()` on a pool connection gives it back once the statements issued before it have
   * run; later calls do nothing. Options, as mysql2's, are ignored.
   */
  end(callback: MysqlDoneCallback): void;
  end(options: unknown, callback: MysqlDoneCallback): void;
  end(options?: unknown): Promise<void>;
  end(options?: unknown, callback?: MysqlDoneCallback): Promise<void> | undefined {
    if (!this.#releasing) this.#releaseAfterQueue();
    return callbackOr(this.#tail, typeof options === 'function' ? options : callback);
  }

  /** As `end()`. */
  close(callback: MysqlDoneCallback): void;
  close(): Promise<void>;
  close(callback?: MysqlDoneCallback): Promise<void> | undefined {
    return callback === undefined ? this.end() : (this.end(callback), undefined);
  }

  /** Closes the held physical connection now instead of returning it to the pool. */
  destroy(): void {
    this.#releasing = true;
    this.#unwatch();
    if (!this.#binding.released) this.#binding.release(new Error('destroyed'));
    this.#closeOpen();
  }

  /** `using conn = await pool.getConnection()`: releases it when the scope exits (no error if already released). */
  [Symbol.dispose](): void {
    if (!this.#releasing) this.#releaseAfterQueue();
  }

  /** `await using conn = …`: as `[Symbol.dispose]`. */
  [Symbol.asyncDispose](): Promise<void> {
    this[Symbol.dispose]();
    return Promise.resolve();
  }
}

function serverSide(name: string): DbRouterError {
  return unsupported(`${name}()`, 'it is the server side of mysql2\'s protocol (mysql2.createServer); a routed connection is a client.');
}

/**
 * What the callback form of a routed connection's `prepare(sql, cb)` returns, as mysql2's
 * `Prepare` command: the statement comes to the callback. Its packet state machine is not
 * there to drive: `start()` is `UNSUPPORTED`, and `sql`/`stream`/`determinePacket` are
 * `undefined`, as on mysql2's own `Prepare` at run time.
 */
class RoutedPrepare extends EventEmitter {
  declare readonly sql: string;
  declare readonly stream: Prepare['stream'];
  declare readonly determinePacket: Prepare['determinePacket'];

  start(): void {
    throw unsupported('Prepare.start()', 'it is part of mysql2\'s protocol state machine; the statement comes to prepare()\'s callback.');
  }
}

/** A connection's socket, as the drivers expose it. */
interface Socketed {
  readonly stream: { readonly destroyed?: boolean; destroy(err?: Error): void; once(event: 'close', fn: () => void): unknown };
}

function destroyMysqlConnections(p: MysqlPoolLike): void {
  const all = (p.pool as unknown as { _allConnections?: { toArray(): { destroy(): void }[] } } | undefined)?._allConnections;
  for (const c of all?.toArray() ?? []) c.destroy();
}

function defaultCreate(config: PoolOptions): MysqlPoolLike {
  const mysql = loadDriver<{ createPool(c: PoolOptions): MysqlPoolLike }>('mysql2/promise');
  return mysql.createPool(config);
}

/**
 * A routed mysql2 pool over a MySQL/MariaDB cluster.
 *
 * @example
 *   const pool = createMysqlPool(cluster);
 *   const db = new Kysely<DB>({ dialect: new MysqlDialect({ pool }) });
 */
export function createMysqlPool(cluster: HasInternals, options?: RoutedMysqlPoolOptions): RoutedMysqlPool {
  return new RoutedMysqlPool(cluster, options);
}
