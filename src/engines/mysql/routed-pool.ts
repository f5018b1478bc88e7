import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import type { PoolOptions } from 'mysql2';
import type { Pool as PromisePool } from 'mysql2/promise';
import { DbRouterError } from '../../errors.js';
import { INTERNALS, type ClusterInternals, type HasInternals } from '../../cluster/internals.js';
import { Binding, dispatch, finish, leaseFor, prepare, runPrepared, settle as settleRun, started, type Lease, type NodeRunner } from '../../routing/dispatch.js';
import type { RouteDecision } from '../../routing/decide.js';
import { currentScope } from '../../routing/scopes.js';
import type { NodeInfo } from '../../routing/router.js';
import { loadDriver } from '../driver.js';
import { mysqlPoolConfig } from './config.js';
import { RoutedQuery, type CoreConnectionLike, type MysqlLease, type MysqlQuery, type MysqlResult, type QuerySource } from './query.js';

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
}

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
  readonly #runner: NodeRunner<Args, MysqlResult, MysqlConnectionLike>;
  readonly #pinnedAlias: string | undefined;
  #ended = false;
  #ending: Promise<void> | undefined;
  #callbackPool: RoutedMysqlCallbackPool | undefined;

  constructor(cluster: HasInternals, options: RoutedMysqlPoolOptions = {}) {
    super();
    this.#cx = cluster[INTERNALS];
    if (this.#cx.engine.name !== 'mysql') {
      throw new DbRouterError('ENGINE_MISMATCH', `createMysqlPool() needs a MySQL/MariaDB cluster, but this one is ${this.#cx.engine.name}; use createPgPool(cluster).`);
    }
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
    // A mysql2 promise pool is driven through its core callback pool on the hot path: mysql2's
    // promise API captures a stack trace per query, a quarter of a loopback round trip.
    const core = p.pool as Partial<CorePool> | undefined;
    this.#core[index] = typeof core?.query === 'function' && typeof core.execute === 'function' ? (core as CorePool) : undefined;
    p.pool?.on('error', (err: unknown) => this.#background(err));
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
      if (!this.#ended && cx.isReady && this.#pinnedAlias === undefined) {
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
      if (!this.#ended && cx.isReady && this.#pinnedAlias === undefined) {
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
    const args: Args = [method, input, values];
    const source: QuerySource = {
      method,
      run: () => this.#run(method, input, values),
      lease: () => {
        if (this.#ended) return Promise.reject(ended());
        return leaseFor(this.#cx, this.#runner, sql, this.#pinnedAlias === undefined ? undefined : this.#pinned()).then((l) => asMysqlLease(l, this.#runner, args));
      },
    };
    return new RoutedQuery(sql, input, values, source, cb);
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
    return new RoutedMysqlConnection(new Binding(this.#cx, this.#runner, this.#pinned()), this, lease);
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
      this.#ending = Promise.all(this.#inner.map((p) => (p === undefined ? Promise.resolve() : p.end()))).then(() => undefined);
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
  readonly #binding: Binding<Args, MysqlResult, MysqlConnectionLike>;
  readonly #pool: RoutedMysqlPool;
  readonly #lease: LeaseFn;

  constructor(binding: Binding<Args, MysqlResult, MysqlConnectionLike>, pool: RoutedMysqlPool, lease: LeaseFn) {
    super();
    this.#binding = binding;
    this.#pool = pool;
    this.#lease = lease;
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
    const args: Args = [method, input, values];
    const binding = this.#binding;
    return new RoutedQuery(sql, input, values, { method, run: () => binding.query(sql, args), lease: () => this.#lease(sql, binding, args) }, cb);
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
  }

  /** mysql2's `end()` on a pool connection gives it back; later calls do nothing. */
  end(callback?: Done): Promise<void> | undefined {
    if (!this.#binding.released) this.#binding.release();
    return callbackOr(Promise.resolve(), callback);
  }

  /** As `end()`. */
  close(callback?: Done): Promise<void> | undefined {
    return this.end(callback);
  }

  /** Closes the held physical connection instead of returning it to the pool. */
  destroy(): void {
    if (!this.#binding.released) this.#binding.release(new Error('destroyed'));
  }

  [Symbol.dispose](): void {
    if (!this.#binding.released) this.#binding.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this[Symbol.dispose]();
    return Promise.resolve();
  }
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
