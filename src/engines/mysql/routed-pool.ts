import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import type { PoolOptions } from 'mysql2';
import type { Pool as PromisePool } from 'mysql2/promise';
import { DbRouterError } from '../../errors.js';
import { CLOSE_NODE_CONNECTIONS, INTERNALS, NODE_POOL_COUNTS, type ClusterInternals, type HasInternals, type NodePoolCounts } from '../../routing/contracts.js';
import { cutForDownNode } from '../engine.js';
import { Binding, dispatch, finish, leaseFor, prepare, runPrepared, settle as settleRun, started, type Lease, type NodeRunner } from '../../routing/dispatch.js';
import type { RouteDecision } from '../../routing/decide.js';
import { readOnlyInternals } from '../read-only.js';
import { currentScope } from '../../routing/scopes.js';
import type { NodeInfo } from '../../routing/router.js';
import { loadDriver } from '../driver.js';
import { checkPoolArguments } from '../pool-options.js';
import { mysqlPoolConfig } from './config.js';
import { RoutedQuery, type CoreConnectionLike, type MysqlLease, type MysqlQuery, type MysqlResult, type QuerySource } from './query.js';
import { END_TIMEOUT_MILLIS, endWithin } from '../bounds.js';

export type { MysqlResult } from './query.js';
export { RoutedQuery, type MysqlQuery } from './query.js';

/** The part of a `mysql2/promise` pool connection dbrouter uses. */
export interface MysqlConnectionLike {
  query(sql: unknown, values?: unknown): Promise<MysqlResult>;
  execute(sql: unknown, values?: unknown): Promise<MysqlResult>;
  release(): void;
  destroy?(): void;
  /** mysql2's core connection, an EventEmitter. */
  readonly connection?: EventEmitter;
}

/** The part of a `mysql2/promise` Pool dbrouter uses: a real one, or a fake in tests. */
export interface MysqlPoolLike {
  query(sql: unknown, values?: unknown): Promise<MysqlResult>;
  execute(sql: unknown, values?: unknown): Promise<MysqlResult>;
  getConnection(): Promise<MysqlConnectionLike>;
  end(): Promise<void>;
  /** mysql2's core (callback) pool, an EventEmitter. */
  readonly pool?: EventEmitter;
}

export interface RoutedMysqlPoolOptions {
  /** Makes the real pool of one node; default `mysql2/promise` `createPool(config)`. */
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
   * A read-only pool: a statement that changes data or schema, takes a lock writers wait on, or
   * that the classifier cannot vouch for is refused with `READ_ONLY` before it reaches any
   * server, on the pool, its checked-out clients and its streams (the rule of `cluster.readOnly()`).
   * Reads are routed as on any pool (to the primary when consistency needs it); transactions,
   * savepoints, cursors and session settings run.
   */
  readonly readOnly?: boolean;
}

/** The mysql2 settings that are also per-query options, kept from an ORM's config by the driver module. */
export const QUERY_OPTION_KEYS = ['typeCast', 'timezone', 'dateStrings', 'supportBigNumbers', 'bigNumberStrings', 'nestTables', 'rowsAsArray', 'decimalNumbers', 'jsonStrings'] as const;

/**
 * Session settings that only shape how a connection reads and writes values, which replicas
 * accept: ORMs send them on connect (Sequelize's `SET time_zone`). One or more `name = literal`
 * assignments (or `NAMES cs [COLLATE c]`), nothing computed, no user variables.
 */
const PORTABLE_SET = /^\s*SET\s+(?:(?:SESSION\s+|@@SESSION\.|@@)?(?:time_zone|sql_mode|character_set_(?:client|connection|results)|collation_connection|lc_time_names|group_concat_max_len|div_precision_increment|max_statement_time|max_execution_time)\s*=\s*(?:'[^'\\]*'|"[^"\\]*"|[\w+.:-]+)|NAMES\s+(?:'\w+'|\w+)(?:\s+COLLATE\s+(?:'\w+'|\w+))?)(?:\s*,\s*(?:(?:SESSION\s+|@@SESSION\.|@@)?(?:time_zone|sql_mode|character_set_(?:client|connection|results)|collation_connection|lc_time_names|group_concat_max_len|div_precision_increment|max_statement_time|max_execution_time)\s*=\s*(?:'[^'\\]*'|"[^"\\]*"|[\w+.:-]+)))*\s*;?\s*$/i;

/** Whether `sql` is a session setting that may apply on every node (see {@link PORTABLE_SET}). */
export function isPortableSet(sql: string): boolean {
  return PORTABLE_SET.test(sql);
}

/** How many distinct session set-ups one pool keeps node pools for before binding to the primary as before. */
const MAX_SESSION_FLAVOURS = 8;

/** A statement as mysql2 takes it: text, or an options object with `sql`. */
export type MysqlQueryInput = string | { readonly sql: string; readonly values?: unknown; readonly [k: string]: unknown };
type Method = 'query' | 'execute';
type Args = readonly [Method, unknown, unknown];
type Callback = (err: Error | null, rows?: unknown, fields?: unknown) => void;
type Done = (err: Error | null) => void;

/** mysql2's core (callback) pool, under its promise pool's `.pool`. */
interface CorePool {
  query(sql: string, values: unknown, cb: (err: Error | null, rows: unknown, fields: unknown) => void): void;
  execute(sql: string, values: unknown, cb: (err: Error | null, rows: unknown, fields: unknown) => void): void;
}

const QUERY = Symbol('dbrouter.mysql.query');
const WITH_OPTIONS = Symbol('dbrouter.mysql.withOptions');
const FLAVOUR = Symbol('dbrouter.mysql.flavour');
const ON_NODE = Symbol('dbrouter.mysql.onNode');
const PARTS = Symbol('dbrouter.mysql.parts');
const APPLY_SET = Symbol('dbrouter.mysql.applySet');
/** Marks a physical connection to destroy instead of giving back (a stream stopped early). */
const DESTROY = Symbol('dbrouter.mysql.destroy');
const CONNECTION = Symbol('dbrouter.mysql.connection');

function textOf(input: unknown): string {
  if (typeof input === 'string') return input;
  if (typeof input === 'object' && input !== null && typeof (input as { sql?: unknown }).sql === 'string') return (input as { sql: string }).sql;
  throw new TypeError('query() takes SQL text or an options object with a `sql` property');
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
  p.then(() => (cb as Done)(null), (e: Error) => (cb as Done)(e));
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

  constructor(cluster: HasInternals, options: RoutedMysqlPoolOptions = {}) {
    super();
    checkPoolArguments('createMysqlPool', cluster, INTERNALS, options);
    this.#cluster = cluster;
    this.#options = options;
    this.#onConnect = options.onConnect ?? [];
    this.#queryOptions = options.queryOptions !== undefined && Object.keys(options.queryOptions).length > 0 ? options.queryOptions : undefined;
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
      release: (c, err) => this.#releaseInner(c, err),
      rows: async (i, sql) => (await this.#pool(i).query(sql))[0] as Record<string, unknown>[],
    };
    this.#cx.track(this);
  }

  #pool(index: number): MysqlPoolLike {
    const existing = this.#inner[index];
    if (existing !== undefined) return existing;
    const node = this.#cx.nodes[index]!;
    const p = this.#create(mysqlPoolConfig(node.connection), node.alias);
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
  query(sql: MysqlQueryInput, values?: unknown): Promise<MysqlResult>;
  query(sql: MysqlQueryInput, values?: unknown, callback?: unknown): Promise<MysqlResult> | MysqlQuery {
    if (callback === undefined && typeof values !== 'function' && typeof sql === 'string') {
      // The hot path, inline: the node pool is called from this frame, since mysql2 captures a
      // stack trace per query and every frame under it costs (see `settle` in routing/dispatch).
      const cx = this.#cx;
      if (!this.#ended && cx.isReady && this.#pinnedAlias === undefined && this.#queryOptions === undefined) {
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
  execute(sql: MysqlQueryInput, values?: unknown): Promise<MysqlResult>;
  execute(sql: MysqlQueryInput, values?: unknown, callback?: unknown): Promise<MysqlResult> | MysqlQuery {
    if (callback === undefined && typeof values !== 'function' && typeof sql === 'string') {
      const cx = this.#cx;
      if (!this.#ended && cx.isReady && this.#pinnedAlias === undefined && this.#queryOptions === undefined) {
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

  /** mysql2's callback-API query: a {@link RoutedQuery} over this pool's routing. */
  [QUERY](method: Method, input: MysqlQueryInput, values: unknown, cb: Callback | undefined): RoutedQuery {
    let sql: string;
    try {
      sql = textOf(input);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      return new RoutedQuery('', input, values, { method, run: () => Promise.reject(err), lease: () => Promise.reject(err) }, cb);
    }
    const args: Args = [method, this[WITH_OPTIONS](input), values];
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

  /** The statement with this pool's per-query mysql2 options (the statement's own win). */
  [WITH_OPTIONS](input: unknown): unknown {
    const o = this.#queryOptions;
    if (o === undefined) return input;
    return typeof input === 'string' ? { ...o, sql: input } : { ...o, ...(input as object) };
  }

  /**
   * A pool of the same nodes whose every physical connection also runs `statements` on connect:
   * where a connection goes once it set a portable session setting, so that setting applies on
   * replicas too and the connection is not pinned to the primary. `undefined` past
   * {@link MAX_SESSION_FLAVOURS} distinct set-ups.
   */
  [FLAVOUR](statements: readonly string[]): RoutedMysqlPool | undefined {
    const key = statements.join('\n');
    let p = this.#flavours.get(key);
    if (p === undefined) {
      if (this.#flavours.size >= MAX_SESSION_FLAVOURS || this.#ended) return undefined;
      p = new RoutedMysqlPool(this.#cluster, { ...this.#options, onConnect: [...this.#onConnect, ...statements] });
      this.#flavours.set(key, p);
    }
    return p;
  }

  /** Runs one statement on a node of this pool, outside any routing (a session setting's check). */
  [ON_NODE](index: number, sql: string): Promise<MysqlResult> {
    return this.#pool(index).query(sql);
  }

  #fast(method: Method, sql: string, values: unknown, d: RouteDecision): Promise<MysqlResult> {
    const cx = this.#cx;
    const runner = this.#runner;
    const p = this.#pool(d.node.index);
    const core = this.#core[d.node.index];
    const t0 = started(cx, d);
    if (core === undefined || t0 !== 0) return settleRun(cx, runner, sql, [method, sql, values] as const, d, t0, method === 'query' ? p.query(sql, values) : p.execute(sql, values));
    const frame = currentScope();
    return new Promise<MysqlResult>((resolve, reject) => {
      core[method](sql, values, (err, rows, fields) => finish(cx, runner, sql, [method, sql, values] as const, d, t0, frame, err, [rows, fields], resolve, reject));
    });
  }

  // Not async: on the hot path each extra async layer costs a measurable share of a round trip.
  #run(method: Method, input: unknown, values: unknown): Promise<MysqlResult> {
    if (this.#ended) return Promise.reject(ended());
    const cx = this.#cx;
    if (!cx.isReady) return cx.ready().then(() => this.#run(method, input, values));
    try {
      const sql = textOf(input);
      input = this[WITH_OPTIONS](input);
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

  /** A lazily binding connection over this pool's routing (what `getConnection` hands out). */
  [CONNECTION](): RoutedMysqlConnection {
    return new RoutedMysqlConnection(this);
  }

  /** A fresh binding over this pool's nodes, and how a streamed statement borrows its connection. */
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
   * mysql2's `pool.config`: the limits and, as `connectionConfig`, the primary's connection
   * settings (the password not enumerable).
   */
  get config(): Record<string, unknown> & { connectionConfig: Record<string, unknown> } {
    const primary = this.#cx.nodes.find((n) => n.role === 'primary') ?? this.#cx.nodes[0]!;
    const connectionConfig = mysqlPoolConfig(primary.connection);
    return { connectionLimit: connectionConfig.connectionLimit ?? 10, waitForConnections: true, queueLimit: 0, connectionConfig };
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

  get ended(): boolean {
    return this.#ended;
  }

  /**
   * This pool typed as a `mysql2/promise` Pool, for libraries whose types ask for one (Drizzle's
   * `drizzle(pool.asMysqlPool())`). The object is the same; only its static type changes.
   */
  asMysqlPool(): PromisePool {
    return this as unknown as PromisePool;
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

  constructor(pool: RoutedMysqlPool) {
    super();
    this.#pool = pool;
  }

  query(sql: MysqlQueryInput, callback: Callback): MysqlQuery;
  query(sql: MysqlQueryInput, values: unknown, callback: Callback): MysqlQuery;
  query(sql: MysqlQueryInput, values?: unknown): RoutedQuery;
  query(sql: MysqlQueryInput, values?: unknown, callback?: Callback): RoutedQuery {
    const [v, cb] = split(values, callback);
    return this.#pool[QUERY]('query', sql, v, cb);
  }

  execute(sql: MysqlQueryInput, callback: Callback): MysqlQuery;
  execute(sql: MysqlQueryInput, values: unknown, callback: Callback): MysqlQuery;
  execute(sql: MysqlQueryInput, values?: unknown): RoutedQuery;
  execute(sql: MysqlQueryInput, values?: unknown, callback?: Callback): RoutedQuery {
    const [v, cb] = split(values, callback);
    return this.#pool[QUERY]('execute', sql, v, cb);
  }

  getConnection(callback: (err: Error | null, connection: RoutedMysqlConnection) => void): void {
    this.#pool.getConnection(callback);
  }

  releaseConnection(connection: { release(): void }): void {
    connection.release();
  }

  end(callback?: (err: Error | null) => void): void {
    if (callback === undefined) this.#pool.end().catch((e: unknown) => this.#pool.emit('error', e));
    else this.#pool.end(callback);
  }

  /** The promise-first pool (mysql2's `pool.promise()`). */
  promise(): RoutedMysqlPool {
    return this.#pool;
  }

  /** A no-op, as on a routed connection: prepared statements live on each node's physical connections. */
  unprepare(sql: string): void {
    void sql;
  }

  get config(): RoutedMysqlPool['config'] {
    return this.#pool.config;
  }

  escape(value: unknown): string {
    return this.#pool.escape(value);
  }

  escapeId(value: string | readonly string[], forbidQualified?: boolean): string {
    return this.#pool.escapeId(value, forbidQualified);
  }

  format(sql: string, values?: unknown): string {
    return this.#pool.format(sql, values);
  }

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

  /** `queryOptions`: mysql2 per-query options for this connection's statements (a driver module's `createConnection(config)`). */
  readonly #loosen: boolean;
  readonly #open = new Set<RoutedQuery>();

  /**
   * `loosen`: a long-lived connection (a driver module's `createConnection`) gives back a primary
   * connection held only for earlier autocommit writes before a plain read (see `Binding.loosen`).
   */
  constructor(pool: RoutedMysqlPool, queryOptions?: Readonly<Record<string, unknown>>, loosen = false) {
    super();
    this.#loosen = loosen;
    this.#pool = pool;
    this.#flavour = pool;
    this.#queryOptions = queryOptions !== undefined && Object.keys(queryOptions).length > 0 ? queryOptions : undefined;
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

  /** The primary's connection settings, as mysql2's `connection.config` (the password not enumerable). */
  get config(): Record<string, unknown> {
    return this.#pool.config.connectionConfig;
  }

  /** mysql2's connection state: `connected` until released or ended, then `disconnected`. */
  get state(): 'connected' | 'disconnected' {
    return this.#binding.released ? 'disconnected' : 'connected';
  }

  /** mysql2's `raw(sql)`: a value `format`/`escape` insert as is. */
  raw(sql: string): unknown {
    return loadDriver<{ raw(s: string): unknown }>('mysql2').raw(sql);
  }

  /** mysql2's server thread id: `null`, since the physical connection changes as the statements are routed. */
  get threadId(): null {
    return null;
  }

  query(sql: MysqlQueryInput, callback: Callback): MysqlQuery;
  query(sql: MysqlQueryInput, values: unknown, callback: Callback): MysqlQuery;
  query(sql: MysqlQueryInput, values?: unknown): RoutedQuery;
  query(sql: MysqlQueryInput, values?: unknown, callback?: unknown): RoutedQuery {
    const [v, cb] = split(values, callback);
    return this.#query('query', sql, v, cb);
  }

  execute(sql: MysqlQueryInput, callback: Callback): MysqlQuery;
  execute(sql: MysqlQueryInput, values: unknown, callback: Callback): MysqlQuery;
  execute(sql: MysqlQueryInput, values?: unknown): RoutedQuery;
  execute(sql: MysqlQueryInput, values?: unknown, callback?: unknown): RoutedQuery {
    const [v, cb] = split(values, callback);
    return this.#query('execute', sql, v, cb);
  }

  #query(method: Method, input: MysqlQueryInput, values: unknown, cb: Callback | undefined): RoutedQuery {
    let sql: string;
    try {
      sql = textOf(input);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      return new RoutedQuery('', input, values, { method, run: () => Promise.reject(err), lease: () => Promise.reject(err) }, cb);
    }
    input = this.#flavour[WITH_OPTIONS](input) as MysqlQueryInput;
    if (this.#queryOptions !== undefined) input = typeof input === 'string' ? { ...this.#queryOptions, sql: input } : { ...this.#queryOptions, ...input };
    const args: Args = [method, input, values];
    if (this.#binding.boundAlias === undefined && !this.#binding.released && isPortableSet(sql)) {
      return new RoutedQuery(sql, input, values, { method, run: () => this.#applySet(sql, args), lease: () => Promise.reject(new TypeError('A SET statement has no rows to stream.')) }, cb);
    }
    const binding = this.#binding;
    const q = new RoutedQuery(sql, input, values, { method, run: () => binding.query(sql, args), lease: () => this.#lease(sql, binding, args) }, cb);
    this.#open.add(q);
    q.once('end', () => this.#open.delete(q));
    return q;
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
  beginTransaction(callback?: Done): Promise<void> | undefined {
    return callbackOr(this.#statement('START TRANSACTION'), callback);
  }

  commit(callback?: Done): Promise<void> | undefined {
    return callbackOr(this.#statement('COMMIT'), callback);
  }

  rollback(callback?: Done): Promise<void> | undefined {
    return callbackOr(this.#statement('ROLLBACK'), callback);
  }

  /** A round trip where the next statement would go (a replica while unbound). */
  ping(callback?: Done): Promise<void> | undefined {
    return callbackOr(this.#statement('SELECT 1'), callback);
  }

  async #statement(sql: string): Promise<void> {
    await this.#binding.query(sql, ['query', sql, undefined]);
  }

  /** Nothing to do: the connection binds on its first statement (mysql2's `connect(cb)`). */
  connect(callback?: Done): Promise<void> | undefined {
    return callbackOr(Promise.resolve(), callback);
  }

  /**
   * mysql2's `unprepare(sql)`: a no-op. Prepared statements live on the physical connections of
   * each node, which mysql2 caches and closes itself.
   */
  unprepare(sql: string): void {
    void sql;
  }

  /** Only meaningful on one physical connection; a routed connection has none to pause. */
  pause(): void {}

  resume(): void {}

  escape(value: unknown): string {
    return this.#pool.escape(value);
  }

  escapeId(value: string | readonly string[], forbidQualified?: boolean): string {
    return this.#pool.escapeId(value, forbidQualified);
  }

  format(sql: string, values?: unknown): string {
    return this.#pool.format(sql, values);
  }

  /** Gives the connection back. A second call throws `CLIENT_RELEASED`. */
  release(): void {
    this.#binding.release();
    this.#closeOpen();
  }

  /** mysql2's `end()` on a pool connection gives it back; later calls do nothing. */
  end(callback?: Done): Promise<void> | undefined {
    if (!this.#binding.released) this.#binding.release();
    this.#closeOpen();
    return callbackOr(Promise.resolve(), callback);
  }

  /** As `end()`. */
  close(callback?: Done): Promise<void> | undefined {
    return this.end(callback);
  }

  /** Closes the held physical connection instead of returning it to the pool. */
  destroy(): void {
    if (!this.#binding.released) this.#binding.release(new Error('destroyed'));
    this.#closeOpen();
  }

  [Symbol.dispose](): void {
    if (!this.#binding.released) this.#binding.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this[Symbol.dispose]();
    return Promise.resolve();
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
