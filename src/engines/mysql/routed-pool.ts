import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import type { PoolOptions } from 'mysql2';
import type { Pool as PromisePool } from 'mysql2/promise';
import { DbRouterError } from '../../errors.js';
import { INTERNALS, NODE_POOL_COUNTS, type ClusterInternals, type HasInternals, type NodePoolCounts } from '../../routing/contracts.js';
import { Binding, dispatch, finish, prepare, runPrepared, settle as settleRun, started, type NodeRunner } from '../../routing/dispatch.js';
import type { RouteDecision } from '../../routing/decide.js';
import { currentScope } from '../../routing/scopes.js';
import type { NodeInfo } from '../../routing/router.js';
import { loadDriver } from '../driver.js';
import { checkPoolArguments } from '../pool-options.js';
import { mysqlPoolConfig } from './config.js';
import { END_TIMEOUT_MILLIS, endWithin } from '../bounds.js';

/** What a mysql2 query resolves to: `[rows or OkPacket, fields]`. */
export type MysqlResult = [unknown, unknown];

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

/** mysql2's core (callback) pool, under its promise pool's `.pool`. */
interface CorePool {
  query(sql: string, values: unknown, cb: (err: Error | null, rows: unknown, fields: unknown) => void): void;
  execute(sql: string, values: unknown, cb: (err: Error | null, rows: unknown, fields: unknown) => void): void;
}

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

function settleCb(p: Promise<MysqlResult>, cb: Callback | undefined): Promise<MysqlResult> | undefined {
  if (cb === undefined) return p;
  p.then(([rows, fields]) => cb(null, rows, fields), (e: Error) => cb(e));
  return undefined;
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

  constructor(cluster: HasInternals, options: RoutedMysqlPoolOptions = {}) {
    super();
    checkPoolArguments('createMysqlPool', cluster, INTERNALS, options);
    this.#cx = cluster[INTERNALS];
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
    if (err !== undefined && err !== false && c.destroy !== undefined) c.destroy();
    else c.release();
  }

  #pinned(): NodeInfo | undefined {
    return this.#pinnedAlias === undefined ? undefined : this.#cx.node(this.#pinnedAlias);
  }

  /** `pool.query(sql, values?)` as mysql2/promise; with a callback as mysql2's callback API. */
  query(sql: MysqlQueryInput, callback: Callback): void;
  query(sql: MysqlQueryInput, values: unknown, callback: Callback): void;
  query(sql: MysqlQueryInput, values?: unknown): Promise<MysqlResult>;
  query(sql: MysqlQueryInput, values?: unknown, callback?: unknown): Promise<MysqlResult> | undefined {
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
    return settleCb(this.#run('query', sql, v), cb);
  }

  /** `pool.execute(sql, values?)`: a server-side prepared statement, as mysql2/promise. */
  execute(sql: MysqlQueryInput, values: unknown, callback: Callback): void;
  execute(sql: MysqlQueryInput, values?: unknown): Promise<MysqlResult>;
  execute(sql: MysqlQueryInput, values?: unknown, callback?: unknown): Promise<MysqlResult> | undefined {
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
    return settleCb(this.#run('execute', sql, v), cb);
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
  getConnection(callback: (err: Error | null, connection?: RoutedMysqlConnection) => void): void;
  getConnection(callback?: (err: Error | null, connection?: RoutedMysqlConnection) => void): Promise<RoutedMysqlConnection> | undefined {
    const p = this.#getConnection();
    if (callback === undefined) return p;
    p.then((c) => callback(null, c), (e: Error) => callback(e));
    return undefined;
  }

  #getConnection(): Promise<RoutedMysqlConnection> {
    if (this.#ended) return Promise.reject(ended());
    if (!this.#cx.isReady) return this.#cx.ready().then(() => this.#getConnection());
    try {
      return Promise.resolve(new RoutedMysqlConnection(new Binding(this.#cx, this.#runner, this.#pinned())));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** Ends every node's pool; idempotent. Afterwards every call rejects with `POOL_ENDED`. */
  end(callback: (err: Error | null) => void): void;
  end(): Promise<void>;
  end(callback?: (err: Error | null) => void): Promise<void> | undefined {
    if (this.#ending === undefined) {
      this.#ended = true;
      this.#cx.untrack(this);
      // Bounded: a server that stopped answering never acknowledges COM_QUIT.
      this.#ending = Promise.all(this.#inner.map((p) => (p === undefined ? Promise.resolve() : endWithin(() => p.end(), END_TIMEOUT_MILLIS, () => destroyMysqlConnections(p))))).then(() => undefined);
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
    return loadDriver<{ escape(v: unknown): string }>('mysql2').escape(value);
  }

  format(sql: string, values?: unknown): string {
    return loadDriver<{ format(s: string, v?: unknown): string }>('mysql2').format(sql, values);
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

const ON_ERROR = Symbol('dbrouter.onError');

/**
 * A checked-out connection of a {@link RoutedMysqlPool}, as a mysql2/promise `PoolConnection`
 * (and mysql2's callback form of `query`/`execute`).
 */
export class RoutedMysqlConnection extends EventEmitter {
  readonly #binding: Binding<Args, MysqlResult, MysqlConnectionLike>;

  constructor(binding: Binding<Args, MysqlResult, MysqlConnectionLike>) {
    super();
    this.#binding = binding;
  }

  /** The alias this connection holds (after a write or a transaction began), if any. */
  get boundAlias(): string | undefined {
    return this.#binding.boundAlias;
  }

  query(sql: MysqlQueryInput, callback: Callback): void;
  query(sql: MysqlQueryInput, values: unknown, callback: Callback): void;
  query(sql: MysqlQueryInput, values?: unknown): Promise<MysqlResult>;
  query(sql: MysqlQueryInput, values?: unknown, callback?: unknown): Promise<MysqlResult> | undefined {
    const [v, cb] = split(values, callback);
    return settleCb(this.#run('query', sql, v), cb);
  }

  execute(sql: MysqlQueryInput, values: unknown, callback: Callback): void;
  execute(sql: MysqlQueryInput, values?: unknown): Promise<MysqlResult>;
  execute(sql: MysqlQueryInput, values?: unknown, callback?: unknown): Promise<MysqlResult> | undefined {
    const [v, cb] = split(values, callback);
    return settleCb(this.#run('execute', sql, v), cb);
  }

  #run(method: Method, input: unknown, values: unknown): Promise<MysqlResult> {
    let sql: string;
    try {
      sql = textOf(input);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return this.#binding.query(sql, [method, input, values] as const);
  }

  /** `START TRANSACTION` on the primary; the connection stays there until released. */
  async beginTransaction(): Promise<void> {
    await this.query('START TRANSACTION');
  }

  async commit(): Promise<void> {
    await this.query('COMMIT');
  }

  async rollback(): Promise<void> {
    await this.query('ROLLBACK');
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  /** Gives the connection back. A second call throws `CLIENT_RELEASED`. */
  release(): void {
    this.#binding.release();
  }

  /** Closes the held physical connection instead of returning it to the pool. */
  destroy(): void {
    if (!this.#binding.released) this.#binding.release(new Error('destroyed'));
  }
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
