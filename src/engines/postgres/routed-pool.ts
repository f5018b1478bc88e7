import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import type { Pool, PoolConfig, QueryResult, QueryResultRow } from 'pg';
import { DbRouterError } from '../../errors.js';
import { INTERNALS, NODE_POOL_COUNTS, type ClusterInternals, type HasInternals, type NodePoolCounts } from '../../routing/contracts.js';
import { Binding, dispatch, finish, prepare, runPrepared, settle, started, type NodeRunner } from '../../routing/dispatch.js';
import type { RouteDecision } from '../../routing/decide.js';
import { currentScope } from '../../routing/scopes.js';
import type { NodeInfo } from '../../routing/router.js';
import { loadDriver } from '../driver.js';
import { pgClientConfig } from './config.js';

/** The part of a node-postgres client dbrouter uses. */
export interface PgClientLike {
  query(text: unknown, values?: unknown): Promise<QueryResult>;
  release(err?: Error | boolean): void;
  on(event: 'error', fn: (err: Error) => void): unknown;
  removeListener(event: 'error', fn: (err: Error) => void): unknown;
}

/** The part of a node-postgres `Pool` dbrouter uses: a real `pg.Pool`, or a fake in tests. */
export interface PgPoolLike extends EventEmitter {
  query(text: unknown, values?: unknown): Promise<QueryResult>;
  connect(): Promise<PgClientLike>;
  end(): Promise<void>;
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

export interface RoutedPgPoolOptions {
  /** Makes the real pool of one node; default `new pg.Pool(config)`. */
  readonly createPool?: (config: PoolConfig, alias: string) => PgPoolLike;
  /** Send every statement to this alias (what `cluster.migrate()` uses). */
  readonly pinned?: string;
}

/** A statement as node-postgres takes it: text, or a config object with `text`. */
export type PgQueryInput = string | { readonly text: string; readonly values?: readonly unknown[]; readonly name?: string; readonly rowMode?: 'array'; readonly [k: string]: unknown };
type Callback = (err: Error | null, result?: QueryResult) => void;

/** node-postgres's callback form of `Pool#query`. */
interface CallbackPool {
  query(text: unknown, values: unknown, cb: (err: Error | undefined, res: QueryResult) => void): void;
}

/** A node-postgres submittable (a cursor or stream): an object with `submit(connection)`. */
export interface Submittable {
  submit: (connection: never) => void;
}

function isSubmittable(x: unknown): x is Submittable {
  return typeof x === 'object' && x !== null && typeof (x as { submit?: unknown }).submit === 'function';
}
type Args = readonly [unknown, unknown];

const FORWARDED = ['connect', 'acquire', 'release', 'remove'] as const;

function textOf(input: unknown): string {
  if (typeof input === 'string') return input;
  if (typeof input === 'object' && input !== null && typeof (input as { text?: unknown }).text === 'string') return (input as { text: string }).text;
  throw new TypeError('query() takes SQL text or a config object with a `text` property');
}

function ended(): DbRouterError {
  return new DbRouterError('POOL_ENDED', 'Cannot use a pool after calling end() on it; create a new pool with createPgPool(cluster).');
}

/**
 * A node-postgres `Pool` that routes: reads to replicas, writes to the primary, under any code
 * that takes a `pg.Pool` (Kysely's `PostgresDialect`, Drizzle's `node-postgres`, your own).
 * Each node has its own real `pg.Pool` inside. Events `connect`/`acquire`/`release`/`remove` carry
 * the node's physical client; `error` carries background errors of any node.
 *
 * @example
 *   const pool = createPgPool(cluster);
 *   const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
 */
export class RoutedPgPool extends EventEmitter {
  readonly #cx: ClusterInternals;
  readonly #create: (config: PoolConfig, alias: string) => PgPoolLike;
  readonly #inner: (PgPoolLike | undefined)[];
  readonly #callbackApi: boolean[] = [];
  readonly #forwarding = new Set<string>();
  readonly #runner: NodeRunner<Args, QueryResult, PgClientLike>;
  readonly #pinnedAlias: string | undefined;
  #ended = false;
  #ending: Promise<void> | undefined;

  constructor(cluster: HasInternals, options: RoutedPgPoolOptions = {}) {
    super();
    this.#cx = cluster[INTERNALS];
    if (this.#cx.engine.name !== 'postgres') {
      throw new DbRouterError('ENGINE_MISMATCH', `createPgPool() needs a PostgreSQL cluster, but this one is ${this.#cx.engine.name}; use createMysqlPool(cluster).`);
    }
    this.#create = options.createPool ?? defaultCreate;
    this.#inner = this.#cx.nodes.map(() => undefined);
    this.#pinnedAlias = options.pinned;
    if (options.pinned !== undefined && !this.#cx.nodes.some((n) => n.alias === options.pinned)) {
      throw new DbRouterError('UNKNOWN_ALIAS', `pinned: no database "${options.pinned}" in this cluster (known: ${this.#cx.nodes.map((n) => n.alias).join(', ')}).`);
    }
    this.#runner = {
      query: (i, a) => this.#pool(i).query(a[0], a[1]),
      acquire: (i) => this.#acquire(i),
      queryOn: (c, a) => c.query(a[0], a[1]),
      release: (c, err) => this.#releaseInner(c, err),
      rows: async (i, sql) => (await this.#pool(i).query(sql)).rows as Record<string, unknown>[],
    };
    this.on('newListener', (event: string) => this.#forward(event));
    this.#cx.track(this);
  }

  #pool(index: number): PgPoolLike {
    const existing = this.#inner[index];
    if (existing !== undefined) return existing;
    const node = this.#cx.nodes[index]!;
    const p = this.#create(pgClientConfig(node.connection), node.alias);
    // A node-postgres pool (it has `Client`) is driven through its callback API on the hot path.
    this.#callbackApi[index] = typeof (p as { Client?: unknown }).Client === 'function';
    // An idle client's error is emitted on its pool; unhandled, it would crash the process.
    p.on('error', (err: Error, client: unknown) => this.#background(err, client));
    for (const e of this.#forwarding) p.on(e, (...a: unknown[]) => this.emit(e, ...a));
    this.#inner[index] = p;
    return p;
  }

  #forward(event: string): void {
    if (!(FORWARDED as readonly string[]).includes(event) || this.#forwarding.has(event)) return;
    this.#forwarding.add(event);
    for (const p of this.#inner) p?.on(event, (...a: unknown[]) => this.emit(event, ...a));
  }

  #background(err: unknown, client?: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err, client);
    else this.#cx.backgroundError(err);
  }

  /**
   * A node client for a routed client: its `notification` (LISTEN) and `notice` events reach the
   * routed client, and its `error` too when listened to, else the pool's. Unhandled, a checked-out
   * client's error would crash the process.
   */
  async #acquire(index: number, owner?: RoutedPgClient): Promise<PgClientLike> {
    const c = await this.#pool(index).connect();
    const handlers: Record<string, (...a: unknown[]) => void> = {
      error: (err) => {
        if (owner !== undefined && owner.listenerCount('error') > 0) owner.emit('error', err);
        else this.#background(err, c);
      },
    };
    if (owner !== undefined) {
      for (const e of ['notification', 'notice']) handlers[e] = (...a) => owner.emit(e, ...a);
    }
    (c as { [HANDLERS]?: typeof handlers })[HANDLERS] = handlers;
    for (const [e, fn] of Object.entries(handlers)) (c as unknown as EventEmitter).on(e, fn);
    return c;
  }

  #releaseInner(c: PgClientLike, err?: unknown): void {
    const handlers = (c as { [HANDLERS]?: Record<string, (...a: unknown[]) => void> })[HANDLERS];
    if (handlers !== undefined) for (const [e, fn] of Object.entries(handlers)) (c as unknown as EventEmitter).removeListener(e, fn);
    c.release(err instanceof Error || err === true ? err : undefined);
  }

  #pinned(): NodeInfo | undefined {
    return this.#pinnedAlias === undefined ? undefined : this.#cx.node(this.#pinnedAlias);
  }

  /** Runs one statement where the routers say; same forms as `pg.Pool#query`, callback included. */
  query<R extends QueryResultRow = QueryResultRow>(text: PgQueryInput, values?: readonly unknown[]): Promise<QueryResult<R>>;
  query(text: PgQueryInput, callback: Callback): void;
  query(text: PgQueryInput, values: readonly unknown[] | undefined, callback: Callback): void;
  query<R extends QueryResultRow = QueryResultRow>(text: PgQueryInput, values?: unknown, callback?: unknown): Promise<QueryResult<R>> | undefined {
    if (typeof values === 'function') return this.#callback(text, undefined, values as Callback);
    if (typeof callback === 'function') return this.#callback(text, values, callback as Callback);
    // The hot path, inline: the node pool is called from this frame (see `settle`). Text or a
    // config object (Drizzle sends `{ text, rowMode, types }`).
    const cx = this.#cx;
    const sql = typeof text === 'string' ? text : (text as { text?: unknown }).text;
    if (this.#ended || !cx.isReady || this.#pinnedAlias !== undefined || typeof sql !== 'string' || isSubmittable(text)) {
      return this.#query(text, values) as Promise<QueryResult<R>>;
    }
    let d: RouteDecision | Promise<RouteDecision>;
    try {
      d = prepare(cx, this.#runner, sql, cx.route(sql));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    const args = [text, values] as const;
    if (d instanceof Promise) return d.then((f) => runPrepared(cx, this.#runner, sql, args, f)) as Promise<QueryResult<R>>;
    const runner = this.#runner;
    const p = this.#pool(d.node.index);
    const t0 = started(cx, d);
    if (this.#callbackApi[d.node.index] !== true || t0 !== 0) return settle(cx, runner, sql, args, d, t0, p.query(text, values)) as Promise<QueryResult<R>>;
    const dd = d;
    const frame = currentScope();
    return new Promise<QueryResult>((resolve, reject) => {
      (p as unknown as CallbackPool).query(text, values, (err, res) => finish(cx, runner, sql, args, dd, t0, frame, err, res, resolve, reject));
    }) as Promise<QueryResult<R>>;
  }

  #callback(text: unknown, values: unknown, cb: Callback): undefined {
    this.#query(text, values).then((r) => cb(null, r), (e: Error) => cb(e));
    return undefined;
  }

  // Not async: on the hot path each extra async layer costs a measurable share of a round trip.
  #query(input: unknown, values: unknown): Promise<QueryResult> {
    if (this.#ended) return Promise.reject(ended());
    const cx = this.#cx;
    if (!cx.isReady) return cx.ready().then(() => this.#query(input, values));
    try {
      const sql = textOf(input);
      const pinned = this.#pinnedAlias === undefined ? undefined : this.#pinned();
      const d = pinned !== undefined ? { node: pinned, reason: 'pinned', classification: cx.classify(sql), write: true } : cx.route(sql);
      return dispatch(cx, this.#runner, sql, [input, values] as const, d);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /**
   * Checks out a client. It binds lazily: reads run on replicas until it writes, opens a
   * transaction or changes session state; from then on it holds a primary connection until
   * `release()`.
   */
  connect(): Promise<RoutedPgClient>;
  connect(callback: (err: Error | undefined, client: RoutedPgClient | undefined, done: (err?: Error | boolean) => void) => void): void;
  connect(callback?: (err: Error | undefined, client: RoutedPgClient | undefined, done: (err?: Error | boolean) => void) => void): Promise<RoutedPgClient> | undefined {
    const p = this.#connect();
    if (callback === undefined) return p;
    p.then((c) => callback(undefined, c, (err) => c.release(err)), (e: Error) => callback(e, undefined, () => {}));
    return undefined;
  }

  #connect(): Promise<RoutedPgClient> {
    if (this.#ended) return Promise.reject(ended());
    if (!this.#cx.isReady) return this.#cx.ready().then(() => this.#connect());
    let pinned: NodeInfo | undefined;
    try {
      pinned = this.#pinned();
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return Promise.resolve(new RoutedPgClient((client) => new Binding(this.#cx, { ...this.#runner, acquire: (i) => this.#acquire(i, client) }, pinned)));
  }

  /** Ends every node's pool. A second call returns the same promise; using the pool afterwards rejects with `POOL_ENDED`. */
  end(): Promise<void> {
    if (this.#ending !== undefined) return this.#ending;
    this.#ended = true;
    this.#cx.untrack(this);
    this.#ending = Promise.all(this.#inner.map((p) => (p === undefined ? Promise.resolve() : p.end()))).then(() => {
      this.emit('end');
    });
    return this.#ending;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /**
   * This pool typed as a `pg.Pool`, for libraries whose types ask for one (Drizzle's
   * `drizzle(pool.asPgPool())`). The object is the same; only its static type changes.
   */
  asPgPool(): Pool {
    return this as unknown as Pool;
  }

  get totalCount(): number {
    return this.#sum('totalCount');
  }

  get idleCount(): number {
    return this.#sum('idleCount');
  }

  get waitingCount(): number {
    return this.#sum('waitingCount');
  }

  #sum(k: 'totalCount' | 'idleCount' | 'waitingCount'): number {
    let n = 0;
    for (const p of this.#inner) if (p !== undefined) n += p[k];
    return n;
  }

  /** @internal Connections per node, for `cluster.poolStats()`. */
  [NODE_POOL_COUNTS](): readonly (NodePoolCounts | undefined)[] {
    return this.#inner.map((p) => (p === undefined ? undefined : { total: p.totalCount, idle: p.idleCount, waiting: p.waitingCount }));
  }

  [inspect.custom](): string {
    return `RoutedPgPool { nodes: ${this.#cx.nodes.length}, totalCount: ${this.totalCount}, idleCount: ${this.idleCount}, ended: ${this.#ended} }`;
  }
}

const HANDLERS = Symbol('dbrouter.handlers');

/**
 * A checked-out client of a {@link RoutedPgPool}: `query`, `release`, as a `pg.PoolClient`. Events
 * `notification` (after `LISTEN`, which binds it to the primary), `notice` and `error` come from
 * the node connection it holds.
 */
export class RoutedPgClient extends EventEmitter {
  readonly #binding: Binding<Args, QueryResult, PgClientLike>;

  constructor(binding: (client: RoutedPgClient) => Binding<Args, QueryResult, PgClientLike>) {
    super();
    this.#binding = binding(this);
  }

  /** The alias this client holds a connection to (after a write or `BEGIN`), if any. */
  get boundAlias(): string | undefined {
    return this.#binding.boundAlias;
  }

  query<R extends QueryResultRow = QueryResultRow>(text: PgQueryInput, values?: readonly unknown[]): Promise<QueryResult<R>>;
  query(text: PgQueryInput, callback: Callback): void;
  query(text: PgQueryInput, values: readonly unknown[] | undefined, callback: Callback): void;
  /** Cursors (`pg-cursor`, Kysely's `.stream()`) are not routed yet: this form throws. */
  query<C extends Submittable>(cursor: C): C;
  query<R extends QueryResultRow = QueryResultRow>(text: PgQueryInput | Submittable, values?: unknown, callback?: unknown): Promise<QueryResult<R>> | Submittable | undefined {
    if (isSubmittable(text)) {
      throw new DbRouterError('UNSUPPORTED', 'Cursors and other submittables (pg-cursor, pg-query-stream, Kysely .stream()) do not go through a routed pool yet; run them on a pool of one node.');
    }
    const cb = typeof values === 'function' ? (values as Callback) : typeof callback === 'function' ? (callback as Callback) : undefined;
    const vals = typeof values === 'function' ? undefined : values;
    const p = this.#run(text, vals) as Promise<QueryResult<R>>;
    if (cb === undefined) return p;
    p.then((r) => cb(null, r), (e: Error) => cb(e));
    return undefined;
  }

  #run(text: unknown, values: unknown): Promise<QueryResult> {
    let sql: string;
    try {
      sql = textOf(text);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return this.#binding.query(sql, [text, values] as const);
  }

  /** Gives the client back. Pass an error to destroy its connection instead of reusing it. Twice throws `CLIENT_RELEASED`. */
  release(err?: Error | boolean): void {
    this.#binding.release(err);
  }
}

function defaultCreate(config: PoolConfig): PgPoolLike {
  const pg = loadDriver<{ Pool: new (c: PoolConfig) => PgPoolLike }>('pg');
  return new pg.Pool(config);
}

/**
 * A routed node-postgres pool over a PostgreSQL cluster.
 *
 * @example
 *   const pool = createPgPool(cluster);
 *   const { rows } = await pool.query('SELECT now()');
 */
export function createPgPool(cluster: HasInternals, options?: RoutedPgPoolOptions): RoutedPgPool {
  return new RoutedPgPool(cluster, options);
}
