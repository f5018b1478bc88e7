import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import type {
  ClientConfig, Connection, Pool, PoolClient, PoolConfig, PoolOptions, QueryArrayConfig, QueryArrayResult, QueryConfig, QueryConfigValues, QueryResult,
  QueryResultRow, Submittable as PgSubmittable,
} from 'pg';
import { DbRouterError } from '../../errors.js';
import { appendSqlComment } from '../../routing/sql-comment.js';
import { CLOSE_NODE_CONNECTIONS, INTERNALS, NODE_POOL_COUNTS, type ClusterInternals, type ConnectionOptions, type HasInternals, type NodePoolCounts } from '../../routing/contracts.js';
import { Binding, dispatch, finish, prepare, runPrepared, settle, started, tagged, type NodeRunner } from '../../routing/dispatch.js';
import type { RouteDecision } from '../../routing/decide.js';
import { readOnlyInternals } from '../read-only.js';
import { currentScope } from '../../routing/scopes.js';
import type { NodeInfo } from '../../routing/router.js';
import { loadDriver } from '../driver.js';
import { checkPoolArguments } from '../pool-options.js';
import { pgClientConfig, redactedConfig } from './config.js';
import { END_TIMEOUT_MILLIS, endWithin } from '../bounds.js';
import { applySetup, sessionSetup } from './session-setup.js';
import { runSubmittable, submittableText } from './submittable.js';

/**
 * The part of a node-postgres client dbrouter uses: what a {@link PgPoolLike}'s `connect()` must
 * return when you bring your own pools (`createPool`).
 */
export interface PgClientLike {
  /** Runs one statement (text or a config object, with optional values) on this connection. */
  query(text: unknown, values?: unknown): Promise<QueryResult>;
  /** Gives the connection back to its pool; an error (or `true`) destroys it instead. */
  release(err?: Error | boolean): void;
  /** Listens for the connection's background errors while a routed client holds it. */
  on(event: 'error', fn: (err: Error) => void): unknown;
  /** Stops listening, when the routed client gives the connection back. */
  removeListener(event: 'error', fn: (err: Error) => void): unknown;
}

/** The part of a node-postgres `Pool` dbrouter uses: a real `pg.Pool`, or a fake in tests. */
export interface PgPoolLike extends EventEmitter {
  /** One statement on a connection of this node's pool (the routed pool's one-shot reads and writes). */
  query(text: unknown, values?: unknown): Promise<QueryResult>;
  /** Checks out a connection of this node (transactions, session state, cursors). */
  connect(): Promise<PgClientLike>;
  /** Closes every connection of this node's pool; called once by the routed pool's `end()`. */
  end(): Promise<void>;
  /** As `pg.Pool#totalCount`: connections open now. */
  readonly totalCount: number;
  /** As `pg.Pool#idleCount`: open connections not in use. */
  readonly idleCount: number;
  /** As `pg.Pool#waitingCount`: checkouts waiting for a connection. */
  readonly waitingCount: number;
  /** As `pg.Pool#expiredCount`: connections past `maxLifetimeSeconds` or `maxUses`, not yet closed; counted as 0 when absent. */
  readonly expiredCount?: number;
}

/**
 * Options of {@link createPgPool}. All optional: `createPgPool(cluster)` opens one `pg.Pool` per
 * node, lazily, sized by the cluster's `pool` settings.
 *
 * @example
 *   const pool = createPgPool(cluster, { onConnect: ["SET TIME ZONE 'UTC'"] });
 */
export interface RoutedPgPoolOptions {
  /**
   * Makes the real pool of one node from its node-postgres config and alias; default
   * `new pg.Pool(config)`. Called once per node, on the first statement that goes there.
   */
  readonly createPool?: (config: PoolConfig, alias: string) => PgPoolLike;
  /** Send every statement to this alias (what `cluster.migrate()` uses). */
  readonly pinned?: string;
  /**
   * Statements run on every new physical connection of every node, before anything else runs on it
   * (node-postgres queues them first), e.g. `["SET TIME ZONE 'UTC'", 'SET search_path TO app, public']`.
   * Set-up here is not session state: it does not bind a client to the primary. For settings a
   * server takes at start-up, `driverOptions: { options: '-c search_path=app' }` on a database works too.
   */
  readonly onConnect?: readonly string[];
  /**
   * A read-only pool: a statement that changes data or schema, takes a lock writers wait on, or
   * that the classifier cannot vouch for is refused with `READ_ONLY` before it reaches any
   * server, on the pool, its checked-out clients and its streams (the rule of `cluster.readOnly()`).
   * Reads are routed as on any pool (to the primary when consistency needs it); transactions,
   * savepoints, cursors and session settings run.
   */
  readonly readOnly?: boolean;
  /**
   * What an application or a library passes to `new pg.Pool(config)`, applied to every node's pool:
   * sizes and timeouts (`max`, `min`, `idleTimeoutMillis`, `connectionTimeoutMillis`, `maxUses`,
   * `maxLifetimeSeconds`, `allowExitOnIdle`), pg-pool's hooks (`verify`, `onConnect`, `log`) and the
   * session settings of its clients (`statement_timeout`, `query_timeout`, `application_name`,
   * `types`, `binary`, `pipeline`, …), and `Promise` (the promise library of the pool and its
   * clients, as pg-pool's). Each node gets its own pool of that size. Where to connect is the cluster's:
   * `host`, `port`, `user`, `password`, `database`, `connectionString`, `ssl` and `Client` are ignored.
   * A driver module's `new Pool(config)` (see `pgDriver`) passes its `config` here.
   */
  readonly poolConfig?: PoolConfig;
}

/** Settings of a `pg.Pool` config that say where and how to connect: the cluster decides those. */
const CLUSTER_KEYS: ReadonlySet<string> = new Set(['host', 'hostaddr', 'port', 'user', 'password', 'database', 'connectionString', 'ssl', 'Client', 'Promise', 'stream']);

/** The part of a caller's `pg.Pool` config a node's pool takes (see `RoutedPgPoolOptions.poolConfig`). */
export function poolBehaviour(config: unknown): Record<string, unknown> {
  if (typeof config !== 'object' || config === null) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) if (v !== undefined && !CLUSTER_KEYS.has(k)) out[k] = v;
  return out;
}

/** What pg and pg-pool take as their `Promise` option: a constructor whose `resolve` adopts a native promise (Bluebird, a subclass). */
interface PromiseLibrary {
  resolve(value: unknown): unknown;
}

/** @internal A config's `Promise` (pg's and pg-pool's option), when it names a library other than the global `Promise`. */
export function promiseOption(config: unknown): PromiseLibrary | undefined {
  const lib = typeof config === 'object' && config !== null ? (config as { Promise?: unknown }).Promise : undefined;
  return typeof lib === 'function' && lib !== Promise && typeof (lib as { resolve?: unknown }).resolve === 'function' ? (lib as unknown as PromiseLibrary) : undefined;
}

/**
 * @internal Makes `target`'s promise-returning methods return `lib`'s promises, as pg-pool's `Promise`
 * option does. Installed on the object only when asked for: the prototype's methods (and their
 * hot path) stay as they are for everyone else.
 */
export function withPromiseLibrary(target: object, lib: PromiseLibrary): void {
  for (const name of ['query', 'connect', 'end'] as const) {
    const own = (target as Record<string, (...a: unknown[]) => unknown>)[name]!;
    Object.defineProperty(target, name, {
      configurable: true,
      writable: true,
      value: (...a: unknown[]): unknown => {
        const r = own.apply(target, a);
        return r instanceof Promise ? lib.resolve(r) : r;
      },
    });
  }
}

/** A statement as node-postgres takes it: text, or a config object with `text`. */
export type PgQueryInput = string | {
  /** The SQL text: what routing classifies. */
  readonly text: string;
  /** As pg's `values`: the parameters `$1`, `$2`, … (never classified, logged or shown). */
  readonly values?: readonly unknown[];
  /** As pg's `name`: a named prepared statement, prepared once per connection. */
  readonly name?: string;
  /** As pg's `rowMode`: `array` returns each row as an array of values. */
  readonly rowMode?: 'array';
  readonly [k: string]: unknown;
};
type Callback = (err: Error | null | undefined, result?: QueryResult) => void;
/** node-postgres's query callback, as the callback forms of `query` take it. */
export type PgCallback<R> = (err: Error, result: R) => void;

/** node-postgres's callback form of `Pool#query`. */
interface CallbackPool {
  query(text: unknown, values: unknown, cb: (err: Error | undefined, res: QueryResult) => void): void;
}

/** @internal A node-postgres submittable (a cursor or stream): an object with `submit(connection)`. */
export interface Submittable {
  submit: (connection: never) => void;
}

function isSubmittable(x: unknown): x is Submittable {
  return typeof x === 'object' && x !== null && typeof (x as { submit?: unknown }).submit === 'function';
}
type Args = readonly [unknown, unknown];

const FORWARDED = ['connect', 'acquire', 'release', 'remove'] as const;

/**
 * A statement (`[text or config, values]`) with a sqlcommenter comment on its text. A config with
 * a `name` is a named prepared statement: node-postgres refuses the name with another text.
 */
function commentPgArgs(a: Args, make: (prepared: boolean) => string | undefined): Args {
  const input = a[0];
  const text = typeof input === 'string' ? input : typeof input === 'object' && input !== null && !isSubmittable(input) ? (input as { text?: unknown }).text : undefined;
  if (typeof text !== 'string') return a;
  const name = typeof input === 'object' ? (input as { name?: unknown }).name : undefined;
  const comment = make(typeof name === 'string' && name !== '');
  if (comment === undefined) return a;
  const commented = appendSqlComment(text, comment, 'postgres');
  if (commented === text) return a;
  return [typeof input === 'string' ? commented : { ...(input as object), text: commented }, a[1]];
}

/**
 * A named prepared statement sent again by its name alone (`{ name, values }`, as pg allows once
 * the name was used with its text): the text it was first given, from `statements`, so it can be
 * routed and prepared on whichever connection runs it. A name with text is remembered there.
 */
function withStatementText(input: unknown, statements: Map<string, string>): unknown {
  if (typeof input !== 'object' || input === null || isSubmittable(input)) return input;
  const { name, text } = input as { name?: unknown; text?: unknown };
  if (typeof name !== 'string' || name === '') return input;
  if (typeof text === 'string') {
    if (!statements.has(name)) statements.set(name, text);
    return input;
  }
  const known = statements.get(name);
  return known === undefined ? input : { ...input, text: known };
}

function textOf(input: unknown): string {
  if (typeof input === 'string') return input;
  if (typeof input === 'object' && input !== null && typeof (input as { text?: unknown }).text === 'string') return (input as { text: string }).text;
  throw new TypeError('query() takes SQL text or a config object with a `text` property');
}

function ended(): DbRouterError {
  return new DbRouterError('POOL_ENDED', 'Cannot use a pool after calling end() on it; create a new pool with createPgPool(cluster).');
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * Settles a node-postgres style callback from `p`, outside the promise chain: an exception the
 * callback throws reaches the process (or the test runner) as it does with pg, instead of becoming
 * an unhandled rejection with nothing to attribute it to.
 */
function callBack<T>(p: Promise<T>, cb: (err: Error | null, result?: T) => void): void {
  p.then(
    (r) => process.nextTick(cb, null, r),
    (e: unknown) => process.nextTick(cb, asError(e)),
  );
}

/** The `pg` module, when installed: its classes head our prototype chains (see the end of this file). */
interface PgModule {
  readonly Pool: { readonly prototype: object };
  readonly Client: { readonly prototype: object };
  readonly TypeOverrides: new (userTypes?: PgTypesLike) => PgTypeOverrides;
  escapeLiteral(s: string): string;
  escapeIdentifier(s: string): string;
}

/** What pg takes as a client's `types` option: anything with `getTypeParser` (a `TypeOverrides`, `pg.types`). */
export interface PgTypesLike {
  /** The parser for values of type `oid` in `format` (`text` by default). */
  getTypeParser(oid: number, format?: string): unknown;
}

interface PgTypeOverrides extends PgTypesLike {
  setTypeParser(oid: number, format: unknown, parser?: unknown): void;
}

function optionalPg(): PgModule | undefined {
  try {
    return loadDriver<PgModule>('pg');
  } catch {
    return undefined;
  }
}

const PG = optionalPg();
const HANDLERS = Symbol('dbrouter.handlers');
/** Marks a node connection that carries a client's replayed session settings: reset before it goes back. */
const DIRTY = Symbol('dbrouter.session');
/** A routed client's way to run a submittable and hear when it is over (used by `RoutedPgPool#query`). */
const SUBMIT = Symbol('dbrouter.submit');

/** pg-pool's defaults, for `pool.options`. */
const POOL_DEFAULTS = { max: 10, idleTimeoutMillis: 10000, maxUses: Infinity, allowExitOnIdle: false, maxLifetimeSeconds: 0 } as const;

/**
 * What a routed client needs from its pool. Routed clients come from `pool.connect()` or from a
 * driver module's `Client` (see `pgDriver`).
 *
 * @internal
 */
export interface PgClientHost {
  readonly cx: ClusterInternals;
  readonly runner: NodeRunner<Args, QueryResult, PgClientLike>;
  acquire(index: number, owner: RoutedPgClient): Promise<PgClientLike>;
  release(conn: PgClientLike, err: unknown, reset: boolean): void;
  /** An error emitted on a client after its release: the pool's `error` event, as pg-pool reports an idle client's. */
  releasedError(err: unknown, client: RoutedPgClient): void;
  readonly config: ClientConfig;
  /** Texts of named prepared statements, by name (see `withStatementText`). */
  readonly statements: Map<string, string>;
  /** The pool's `Promise` option: its clients' promises too, as pg-pool passes it to its clients. */
  readonly promiseLibrary?: PromiseLibrary | undefined;
}

// The interface adds the pg.Pool members the class leaves to its prototype chain (types only).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface RoutedPgPool extends Omit<Pool, keyof EventEmitter | 'query' | 'connect' | 'end' | 'options' | 'totalCount' | 'idleCount' | 'waitingCount' | 'expiredCount' | 'ending' | 'ended'> {}
/**
 * A node-postgres `Pool` that routes: reads to replicas, writes to the primary, under any code
 * that takes a `pg.Pool` (Kysely's `PostgresDialect`, Drizzle's `node-postgres`, Prisma's
 * `PrismaPg`, Knex's `connectionPool`, your own). It type-checks as a `pg.Pool`, and
 * `instanceof pg.Pool` is true for the `pg` package dbrouter resolves (the application's). Each node
 * has its own real `pg.Pool` inside. Events `connect`/`acquire`/`release`/`remove` carry the node's
 * physical client; `error` carries background errors of any node. Submittables (`pg-cursor`,
 * `pg-query-stream`) are routed like the statement they run, and hold a connection until they end.
 *
 * @example
 *   const pool = createPgPool(cluster);
 *   const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class RoutedPgPool extends EventEmitter {
  readonly #cx: ClusterInternals;
  readonly #create: (config: PoolConfig, alias: string) => PgPoolLike;
  readonly #inner: (PgPoolLike | undefined)[];
  /** Connected clients of each node's pool, idle or checked out (see `CLOSE_NODE_CONNECTIONS`). */
  readonly #open: Set<PgClientLike>[] = [];
  readonly #callbackApi: boolean[] = [];
  readonly #forwarding = new Set<string>();
  readonly #runner: NodeRunner<Args, QueryResult, PgClientLike>;
  readonly #pinnedAlias: string | undefined;
  readonly #onConnect: string | undefined;
  readonly #host: PgClientHost;
  /** The caller's `pg.Pool` settings for every node's pool (see `RoutedPgPoolOptions.poolConfig`). */
  readonly #behaviour: Record<string, unknown>;
  #options: PoolOptions | undefined;
  #ending = false;
  #ended = false;
  /** Statements in flight and clients checked out (see `end()`). */
  #busy = 0;
  #whenIdle: (() => void) | undefined;
  #endPromise: Promise<void> | undefined;

  /**
   * The same as {@link createPgPool}. Throws `CONFIG_INVALID` for anything but a cluster or an
   * unknown option, `ENGINE_MISMATCH` for a MySQL cluster, and `DRIVER_MISSING` when `pg` is not
   * installed and no `createPool` is given.
   */
  constructor(cluster: HasInternals, options: RoutedPgPoolOptions = {}) {
    super();
    checkPoolArguments('createPgPool', cluster, INTERNALS, options);
    this.#cx = options.readOnly === true ? readOnlyInternals(cluster[INTERNALS]) : cluster[INTERNALS];
    if (this.#cx.engine.name !== 'postgres') {
      throw new DbRouterError('ENGINE_MISMATCH', `createPgPool() needs a PostgreSQL cluster, but this one is ${this.#cx.engine.name}; use createMysqlPool(cluster).`);
    }
    // Without a createPool of the caller's, the driver is needed: DRIVER_MISSING here, not at the first query.
    if (options.createPool === undefined) loadDriver('pg');
    this.#create = options.createPool ?? defaultCreate;
    this.#inner = this.#cx.nodes.map(() => undefined);
    this.#behaviour = poolBehaviour(options.poolConfig);
    this.#pinnedAlias = options.pinned;
    this.#onConnect = options.onConnect !== undefined && options.onConnect.length > 0 ? options.onConnect.join('; ') : undefined;
    if (options.pinned !== undefined && !this.#cx.nodes.some((n) => n.alias === options.pinned)) {
      throw new DbRouterError('UNKNOWN_ALIAS', `pinned: no database "${options.pinned}" in this cluster (known: ${this.#cx.nodes.map((n) => n.alias).join(', ')}).`);
    }
    this.#runner = {
      query: (i, a) => this.#pool(i).query(a[0], a[1]),
      acquire: (i) => this.#acquire(i),
      queryOn: (c, a) => c.query(a[0], a[1]),
      comment: commentPgArgs,
      release: (c, err) => this.#releaseInner(c, err, false),
      rows: async (i, sql) => (await this.#pool(i).query(sql)).rows as Record<string, unknown>[],
    };
    const settings = (): ClientConfig => this.options;
    const promiseLibrary = promiseOption(options.poolConfig);
    this.#host = {
      cx: this.#cx,
      runner: this.#runner,
      acquire: (i, owner) => this.#acquire(i, owner),
      release: (c, err, reset) => this.#releaseInner(c, err, reset),
      releasedError: (err, client) => this.#background(err, client),
      statements: new Map(),
      promiseLibrary,
      get config(): ClientConfig {
        return settings();
      },
    };
    this.on('newListener', (event: string) => this.#forward(event));
    this.#cx.track(this);
    if (promiseLibrary !== undefined) withPromiseLibrary(this, promiseLibrary);
  }

  #pool(index: number): PgPoolLike {
    const existing = this.#inner[index];
    if (existing !== undefined) return existing;
    const node = this.#cx.nodes[index]!;
    const p = this.#create(this.#nodeConfig(node.connection), node.alias);
    // A node-postgres pool (it has `Client`) is driven through its callback API on the hot path.
    this.#callbackApi[index] = typeof (p as { Client?: unknown }).Client === 'function';
    // An idle client's error is emitted on its pool; unhandled, it would crash the process.
    p.on('error', (err: Error, client: unknown) => this.#background(err, client));
    // pg-pool's own events: 'connect' once a client is connected (a client still connecting is left
    // out: cutting it would fail a statement that never reached the server as if it had), 'remove'.
    const open = new Set<PgClientLike>();
    this.#open[index] = open;
    p.on('connect', (c: PgClientLike) => open.add(c));
    p.on('remove', (c: PgClientLike) => open.delete(c));
    const setup = this.#onConnect;
    // node-postgres runs a client's queries in order: set-up queued here runs before any other.
    if (setup !== undefined) p.on('connect', (c: PgClientLike) => void c.query(setup).catch((err: unknown) => this.#background(err, c)));
    for (const e of this.#forwarding) p.on(e, (...a: unknown[]) => this.emit(e, ...a));
    this.#inner[index] = p;
    return p;
  }

  /** One node's pool settings: the cluster's, with the caller's `poolConfig` over them (never where to connect). */
  #nodeConfig(connection: ConnectionOptions): PoolConfig {
    const base = pgClientConfig(connection);
    return Object.keys(this.#behaviour).length === 0 ? base : redactedConfig({ ...base, ...this.#behaviour });
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

  /**
   * Gives a node connection back. One that carries a client's session settings is reset first
   * (`RESET ALL`, then this pool's `onConnect` again), so the next borrower gets a clean session.
   */
  #releaseInner(c: PgClientLike, err: unknown, reset: boolean): void {
    const handlers = (c as { [HANDLERS]?: Record<string, (...a: unknown[]) => void> })[HANDLERS];
    if (handlers !== undefined) for (const [e, fn] of Object.entries(handlers)) (c as unknown as EventEmitter).removeListener(e, fn);
    const destroy = err instanceof Error || err === true;
    const dirty = (c as { [DIRTY]?: boolean })[DIRTY] === true;
    if (!destroy && (reset || dirty)) {
      delete (c as { [DIRTY]?: boolean })[DIRTY];
      const sql = this.#onConnect === undefined ? 'RESET ALL' : `RESET ALL; ${this.#onConnect}`;
      c.query(sql).then(() => c.release(), (e: unknown) => c.release(asError(e)));
      return;
    }
    c.release(destroy ? (err) : undefined);
  }

  #pinned(): NodeInfo | undefined {
    return this.#pinnedAlias === undefined ? undefined : this.#cx.node(this.#pinnedAlias);
  }

  /**
   * Runs one statement where the routers say; same forms as `pg.Pool#query`, callback included.
   * A submittable (`new Cursor(sql)`, `new QueryStream(sql)`) is returned at once and runs on a
   * connection of its own, given back when it ends, fails or is closed.
   */
  query<T extends PgSubmittable>(queryStream: T): T;
  query<R extends unknown[] = unknown[], I = unknown[]>(queryConfig: QueryArrayConfig<I>, values?: QueryConfigValues<I>): Promise<QueryArrayResult<R>>;
  query<R extends QueryResultRow = QueryResultRow, I = unknown[]>(queryConfig: QueryConfig<I>): Promise<QueryResult<R>>;
  query<R extends QueryResultRow = QueryResultRow, I = unknown[]>(queryTextOrConfig: string | QueryConfig<I>, values?: QueryConfigValues<I>): Promise<QueryResult<R>>;
  query<R extends unknown[] = unknown[], I = unknown[]>(queryConfig: QueryArrayConfig<I>, callback: PgCallback<QueryArrayResult<R>>): void;
  query<R extends QueryResultRow = QueryResultRow, I = unknown[]>(queryTextOrConfig: string | QueryConfig<I>, callback: PgCallback<QueryResult<R>>): void;
  query<R extends QueryResultRow = QueryResultRow, I = unknown[]>(queryText: string, values: QueryConfigValues<I>, callback: PgCallback<QueryResult<R>>): void;
  query(text: unknown, values?: unknown, callback?: unknown): unknown {
    if (typeof text === 'function') {
      // pg-pool's answer: the callback hears the misuse instead of never being called.
      callBack(Promise.reject(new TypeError('pool.query() takes SQL text or a config object first; a function as the first argument is not supported')), text as Callback);
      return undefined;
    }
    if (typeof values === 'function') return this.#callback(text, undefined, values as Callback);
    if (typeof callback === 'function') return this.#callback(text, values, callback as Callback);
    // The hot path, inline: the node pool is called from this frame (see `settle`). Text or a
    // config object (Drizzle sends `{ text, rowMode, types }`).
    const cx = this.#cx;
    if (typeof text === 'object' && text !== null && (text as { name?: unknown }).name !== undefined) text = withStatementText(text, this.#host.statements);
    const sql = typeof text === 'string' ? text : (text as { text?: unknown }).text;
    if (this.#ending || !cx.isReady || this.#pinnedAlias !== undefined || typeof sql !== 'string' || isSubmittable(text)) {
      if (isSubmittable(text)) return this.#submit(text);
      return this.#query(text, values);
    }
    let d: RouteDecision | Promise<RouteDecision>;
    try {
      d = prepare(cx, this.#runner, sql, cx.route(sql));
    } catch (e) {
      return Promise.reject(asError(e));
    }
    const args = [text, values] as const;
    if (d instanceof Promise) return this.#tracked(d.then((f) => runPrepared(cx, this.#runner, sql, args, f)));
    const runner = this.#runner;
    const p = this.#pool(d.node.index);
    // What the node gets: with sqlComment on, the text ends with where and why (a retry starts from `args`).
    const sent = cx.sqlComment === undefined ? text : tagged(cx, runner, args, d.node, d.reason, d.classification)[0];
    const t0 = started(cx, d);
    if (this.#callbackApi[d.node.index] !== true || t0 !== 0) return this.#tracked(settle({ cx, runner, sql, args, decision: d, t0 }, p.query(sent, values)));
    const decision = d;
    const frame = currentScope();
    this.#busy++;
    return new Promise<QueryResult>((resolve, reject) => {
      const s = { cx, runner, sql, args, decision, t0, frame, resolve, reject };
      (p as unknown as CallbackPool).query(sent, values, (err, res) => {
        finish(s, err, res);
        this.#leave();
      });
    });
  }

  #callback(text: unknown, values: unknown, cb: Callback): unknown {
    if (isSubmittable(text)) {
      (text as { callback?: unknown }).callback ??= cb;
      return this.#submit(text);
    }
    // pg-pool calls back `(undefined, result)` on success (a client's own query calls back `null`).
    callBack(this.#query(text, values), (err, res) => cb(err ?? undefined, res));
    return undefined;
  }

  /** A submittable runs on a client of its own, released when the submittable is over. */
  #submit<T extends Submittable>(sub: T): T {
    if (this.#ending) {
      queueMicrotask(() => (sub as { handleError?: (e: Error) => void }).handleError?.(ended()));
      return sub;
    }
    const client = new RoutedPgClient(this.#host, this.#pinnedAlias === undefined ? undefined : () => this.#pinned());
    this.#busy++;
    client[SUBMIT](sub, () => {
      client.release();
      this.#leave();
    });
    return sub;
  }

  // Not async: on the hot path each extra async layer costs a measurable share of a round trip.
  #query(input: unknown, values: unknown): Promise<QueryResult> {
    if (this.#ending) return Promise.reject(ended());
    const cx = this.#cx;
    if (!cx.isReady) return this.#tracked(cx.ready().then(() => this.#query(input, values)));
    try {
      input = withStatementText(input, this.#host.statements);
      const sql = textOf(input);
      const pinned = this.#pinnedAlias === undefined ? undefined : this.#pinned();
      const d = pinned !== undefined ? { node: pinned, reason: 'pinned', classification: cx.classify(sql), write: true } : cx.route(sql);
      return this.#tracked(dispatch(cx, this.#runner, sql, [input, values] as const, d));
    } catch (e) {
      return Promise.reject(asError(e));
    }
  }

  /**
   * Checks out a client. It binds lazily: reads run on replicas until it writes, opens a
   * transaction or changes session state; from then on it holds a primary connection until
   * `release()`. Session set-up (`SET time_zone`, `SET search_path`, `DISCARD ALL` …) does not bind
   * it: the client replays it on every node connection it uses.
   */
  connect(): Promise<RoutedPgClient>;
  connect(callback: (err: Error | undefined, client: RoutedPgClient | undefined, done: (err?: Error | boolean) => void) => void): void;
  connect(callback?: (err: Error | undefined, client: RoutedPgClient | undefined, done: (err?: Error | boolean) => void) => void): Promise<RoutedPgClient> | undefined {
    const p = this.#connect();
    if (callback === undefined) return p;
    p.then(
      (c) => process.nextTick(callback, undefined, c, (err?: Error | boolean) => c.release(err)),
      (e: unknown) => process.nextTick(callback, asError(e), undefined, () => {}),
    );
    return undefined;
  }

  #connect(): Promise<RoutedPgClient> {
    if (this.#ending) return Promise.reject(ended());
    if (!this.#cx.isReady) return this.#cx.ready().then(() => this.#connect());
    let pinned: NodeInfo | undefined;
    try {
      pinned = this.#pinned();
    } catch (e) {
      return Promise.reject(asError(e));
    }
    this.#busy++;
    return Promise.resolve(new RoutedPgClient(this.#host, pinned === undefined ? undefined : () => pinned, false, undefined, () => this.#leave()));
  }

  /**
   * A client for a driver module's `Client` (see `pgDriver`): binds nothing until used, and after
   * an autocommit write or a transaction its reads go back to replicas (an ORM keeps such clients
   * in its own pool for long).
   */
  client(types?: PgTypesLike): RoutedPgClient {
    if (this.#ending) throw ended();
    return new RoutedPgClient(this.#host, this.#pinnedAlias === undefined ? undefined : () => this.#pinned(), true, types);
  }

  /**
   * Ends every node's pool. As pg-pool, statements already issued and clients still checked out
   * finish first (waited for up to 5000 ms); then each node's pool, within 5000 ms (past it the
   * connections left are destroyed). A second call returns the same promise; using the pool afterwards rejects with `POOL_ENDED`. With a
   * callback (pg's `end(cb)`, what TypeORM calls), it is called once every pool has ended.
   */
  end(): Promise<void>;
  end(callback: (err?: Error) => void): void;
  end(callback?: (err?: Error) => void): Promise<void> | undefined {
    const p = this.#end();
    if (callback === undefined) return p;
    p.then(() => process.nextTick(callback), (e: unknown) => process.nextTick(callback, asError(e)));
    return undefined;
  }

  #end(): Promise<void> {
    if (this.#endPromise !== undefined) return this.#endPromise;
    this.#ending = true;
    this.#cx.untrack(this);
    // As pg-pool: statements already issued and clients still checked out finish first (within
    // the bound). Then every node's pool, bounded: a server that stopped answering never
    // acknowledges a polite close.
    this.#endPromise = this.#settled()
      .then(() => Promise.all(this.#inner.map((p) => (p === undefined ? Promise.resolve() : endWithin(() => p.end(), END_TIMEOUT_MILLIS, () => destroyPgClients(p))))))
      .then(() => {
        this.#ended = true;
        this.emit('end');
      });
    return this.#endPromise;
  }

  /**
   * `p`, counted as in flight until it settles (what `end()` waits for). Awaited, not given a
   * second `.then`: a promise with one reaction keeps the caller's frames in async stack traces.
   */
  #tracked<T>(p: Promise<T>): Promise<T> {
    this.#busy++;
    return this.#awaitThenLeave(p);
  }

  async #awaitThenLeave<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } finally {
      this.#leave();
    }
  }

  #leave(): void {
    this.#busy--;
    if (this.#busy === 0 && this.#whenIdle !== undefined) this.#whenIdle();
  }

  /** Resolves once nothing is in flight and no client is checked out, or after `END_TIMEOUT_MILLIS`. */
  #settled(): Promise<void> {
    if (this.#busy === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, END_TIMEOUT_MILLIS);
      timer.unref();
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#whenIdle = done;
    });
  }

  /** True once `end()` was called (pg's `pool.ending`). */
  get ending(): boolean {
    return this.#ending;
  }

  /** True once every node's pool has ended (pg's `pool.ended`). */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * The pool's settings, as pg's `pool.options`: the primary's connection settings and pool sizes.
   * The password is an ordinary property (a `{ ...pool.options }` copy connects) that logs and
   * `JSON.stringify` show as `[hidden]`.
   */
  get options(): PoolOptions {
    if (this.#options !== undefined) return this.#options;
    const nodes = this.#cx.nodes;
    const node = nodes.find((n) => n.role === 'primary') ?? nodes[0]!;
    this.#options = redactedConfig({ ...POOL_DEFAULTS, ...this.#nodeConfig(node.connection) });
    return this.#options;
  }

  /**
   * This pool typed as a `pg.Pool`. Kept for code written before the pool type-checked as one;
   * the object is the same.
   */
  asPgPool(): Pool {
    return this;
  }

  /** Connections open now, on every node together (pg-pool's `totalCount`; per node: `cluster.poolStats()`). */
  get totalCount(): number {
    return this.#sum('totalCount');
  }

  /** Open connections not in use, on every node together (pg-pool's `idleCount`). */
  get idleCount(): number {
    return this.#sum('idleCount');
  }

  /** Checkouts waiting for a connection, on every node together (pg-pool's `waitingCount`). */
  get waitingCount(): number {
    return this.#sum('waitingCount');
  }

  /** Connections past their `maxLifetimeSeconds` or `maxUses`, not yet closed, on every node together (pg-pool's `expiredCount`). */
  get expiredCount(): number {
    return this.#sum('expiredCount');
  }

  #sum(k: 'totalCount' | 'idleCount' | 'waitingCount' | 'expiredCount'): number {
    let n = 0;
    for (const p of this.#inner) if (p !== undefined) n += p[k] ?? 0;
    return n;
  }

  /**
   * @internal Destroys this pool's connections to node `index` (its health checks failed): a
   * statement in flight on one fails with pg's `Connection terminated unexpectedly`, which the
   * routing core treats as cut mid-flight; an idle one leaves its pool.
   */
  [CLOSE_NODE_CONNECTIONS](index: number): number {
    const open = this.#open[index];
    if (open === undefined) return 0;
    let n = 0;
    for (const c of open) {
      open.delete(c);
      // No error passed to destroy(): pg already reports the closed socket to the statement in
      // flight and to the client's listeners; an error of ours would reach a checked-out client twice.
      const stream = (c as { connection?: { stream?: { destroyed?: boolean; destroy(): void } } }).connection?.stream;
      if (stream === undefined || stream.destroyed === true) continue;
      stream.destroy();
      n += 1;
    }
    return n;
  }

  /** @internal Connections per node, for `cluster.poolStats()`. */
  [NODE_POOL_COUNTS](): readonly (NodePoolCounts | undefined)[] {
    return this.#inner.map((p) => (p === undefined ? undefined : { total: p.totalCount, idle: p.idleCount, waiting: p.waitingCount }));
  }

  /** What `console.log` and `util.inspect` show: node count and connection counts, never a URL or a password. */
  [inspect.custom](): string {
    return `RoutedPgPool { nodes: ${this.#cx.nodes.length}, totalCount: ${this.totalCount}, idleCount: ${this.idleCount}, ended: ${this.#ended} }`;
  }
}

/** What a routed client says when it has no connection to describe: no query is running. */
const IDLE_QUERY_QUEUE: readonly unknown[] = Object.freeze([]);

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface RoutedPgClient extends Omit<PoolClient, keyof EventEmitter | 'query' | 'release' | 'connect' | 'end' | 'escapeLiteral' | 'escapeIdentifier' | 'setTypeParser' | 'getTypeParser' | 'getTransactionStatus' | 'user' | 'database' | 'port' | 'host' | 'ref' | 'unref' | 'connection' | 'processID' | 'activeQuery' | 'queryQueue' | 'binary' | 'pipeline'> {}
/**
 * A checked-out client of a {@link RoutedPgPool}, typed as a `pg.PoolClient`: `query` (submittables
 * included), `release`, `escapeLiteral`… Events `notification` (after `LISTEN`, which binds it to
 * the primary), `notice` and `error` come from the node connections it uses; `drain` once its
 * statements and streams are done. Statements and streams sent without awaiting reach its bound
 * connection in the order they were sent. Session set-up
 * (`SET …`, `RESET …`, `DISCARD ALL`) sent while it is not bound is remembered and replayed on every
 * node connection it uses (they are reset when it is released), so it keeps reading on replicas.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class RoutedPgClient extends EventEmitter {
  readonly #host: PgClientHost;
  readonly #binding: Binding<Args, QueryResult, PgClientLike>;
  /** Session set-up in force, replayed on each node connection this client takes. */
  #settings: string[] = [];
  /** Connections this client holds for reads while it has settings, by node index. */
  readonly #held = new Map<number, Promise<PgClientLike>>();
  /** Node connections checked out for this client (bound, held, or running its streams), until given back. */
  readonly #inUse = new Set<PgClientLike>();
  #types: PgTypeOverrides | undefined;
  #released = false;
  #ended = false;
  /** Set while a stream is on its way to its connection (see `[SUBMIT]`). */
  #submitting: Promise<void> | undefined;
  /** Statements and streams running, while counted (see `#settledOne`). */
  #pending = 0;
  #connected = false;
  readonly #onRelease: (() => void) | undefined;
  #connection: EventEmitter | undefined;

  /**
   * `longLived`: a driver module's `Client`, kept by an ORM's own pool (see `Binding`'s `holdAfterWrite`).
   * `types`: pg's `new Client({ types })`, the parsers this client falls back to.
   *
   * @internal Clients come from `pool.connect()`, `pool.client()` or `pgDriver(cluster).Client`.
   */
  constructor(host: PgClientHost, pinned?: () => NodeInfo | undefined, longLived = false, types?: PgTypesLike, onRelease?: () => void) {
    super();
    this.#host = host;
    this.#onRelease = onRelease;
    // pg's `new Client({ types })`: the client's parsers, falling back to `types` (MikroORM keeps
    // dates as text this way, Slonik installs its own parsers).
    if (types !== undefined) this.#types = new (pg().TypeOverrides)(types);
    const shared = host.runner;
    const runner: NodeRunner<Args, QueryResult, PgClientLike> = {
      query: (i, a) => (this.#settings.length === 0 ? shared.query(i, a) : this.#heldQuery(i, a)),
      acquire: (i) => this.#take(i, this.#settings),
      queryOn: (c, a) => shared.queryOn(c, a),
      comment: (a, make) => shared.comment(a, make),
      release: (c, err) => {
        this.#inUse.delete(c);
        host.release(c, err, this.#settings.length > 0);
      },
      rows: (i, sql) => shared.rows(i, sql),
    };
    this.#binding = new Binding(host.cx, runner, pinned?.(), { holdAfterWrite: !longLived });
    if (host.promiseLibrary !== undefined) withPromiseLibrary(this, host.promiseLibrary);
  }

  /** The alias this client holds a connection to (after a write or `BEGIN`), if any. */
  get boundAlias(): string | undefined {
    return this.#binding.boundAlias;
  }

  /** A node connection with `settings` replayed on it. */
  async #take(index: number, settings: readonly string[]): Promise<PgClientLike> {
    const c = await this.#host.acquire(index, this);
    if (this.#ended) {
      // Ended while this statement waited for its connection: as pg's end() with statements queued.
      this.#host.release(c, undefined, false);
      throw new DbRouterError('CLIENT_RELEASED', 'Connection terminated');
    }
    this.#inUse.add(c);
    if (settings.length === 0) return c;
    (c as { [DIRTY]?: boolean })[DIRTY] = true;
    try {
      await c.query(settings.join('; '));
    } catch (err) {
      this.#inUse.delete(c);
      this.#host.release(c, err, false);
      throw err;
    }
    return c;
  }

  #heldConn(index: number, settings: readonly string[]): Promise<PgClientLike> {
    let p = this.#held.get(index);
    if (p === undefined) {
      p = this.#take(index, settings);
      this.#held.set(index, p);
      p.catch(() => this.#held.delete(index));
    }
    return p;
  }

  async #heldQuery(index: number, a: Args): Promise<QueryResult> {
    const c = await this.#heldConn(index, this.#settings);
    return c.query(a[0], a[1]);
  }

  /**
   * Session set-up on a client that holds no primary connection: remembered, run on the node
   * connections it holds (or on a replica connection it takes now, so the statement is checked
   * by a server and answers as pg would).
   */
  async #setup(text: unknown, values: unknown, steps: ReturnType<typeof sessionSetup> & object): Promise<QueryResult> {
    const before = this.#settings;
    this.#settings = applySetup(before, steps);
    try {
      if (this.#held.size === 0) {
        if (this.#settings.length === 0) return { command: steps[steps.length - 1]!.sql.split(/\s/)[0]!.toUpperCase(), rowCount: null, oid: 0, rows: [], fields: [] };
        const d = this.#host.cx.route('SELECT 1');
        const c = await this.#heldConn(d.node.index, before);
        return await c.query(text, values);
      }
      const results = await Promise.all([...this.#held.values()].map(async (p) => (await p).query(text, values)));
      return results[0]!;
    } catch (err) {
      this.#settings = before;
      throw err;
    }
  }

  query<T extends PgSubmittable>(queryStream: T): T;
  query<R extends unknown[] = unknown[], I = unknown[]>(queryConfig: QueryArrayConfig<I>, values?: QueryConfigValues<I>): Promise<QueryArrayResult<R>>;
  query<R extends QueryResultRow = QueryResultRow, I = unknown[]>(queryConfig: QueryConfig<I>): Promise<QueryResult<R>>;
  query<R extends QueryResultRow = QueryResultRow, I = unknown[]>(queryTextOrConfig: string | QueryConfig<I>, values?: QueryConfigValues<I>): Promise<QueryResult<R>>;
  query<R extends unknown[] = unknown[], I = unknown[]>(queryConfig: QueryArrayConfig<I>, callback: PgCallback<QueryArrayResult<R>>): void;
  query<R extends QueryResultRow = QueryResultRow, I = unknown[]>(queryTextOrConfig: string | QueryConfig<I>, callback: PgCallback<QueryResult<R>>): void;
  query<R extends QueryResultRow = QueryResultRow, I = unknown[]>(queryText: string, values: QueryConfigValues<I>, callback: PgCallback<QueryResult<R>>): void;
  /**
   * Runs a statement where the binding says (see {@link RoutedPgPool.connect}). A submittable
   * (`pg-cursor`, `pg-query-stream`) is returned at once: a read runs on a replica that has
   * replayed this unit of work (else the primary) on a connection held until it ends, fails or is
   * closed; a write binds the client to the primary and runs there.
   */
  query(text: unknown, values?: unknown, callback?: unknown): unknown {
    const cb = typeof values === 'function' ? (values as Callback) : typeof callback === 'function' ? (callback as Callback) : undefined;
    if (isSubmittable(text)) {
      if (cb !== undefined) (text as { callback?: unknown }).callback ??= cb;
      this.#pending++;
      this[SUBMIT](text, () => this.#settledOne());
      return text;
    }
    const vals = typeof values === 'function' ? undefined : values;
    if (cb === undefined) {
      // Counted for `drain` only while someone listens: the extra await costs a little on every statement.
      return this.listenerCount('drain') > 0 ? this.#counted(this.#run(text, vals)) : this.#run(text, vals);
    }
    // Callback code (where `drain` is used, often listened to after the statements were sent): always counted.
    this.#pending++;
    callBack(this.#run(text, vals), (err, res) => {
      try {
        cb(err, res);
      } finally {
        this.#settledOne();
      }
    });
    return undefined;
  }

  async #counted<T>(p: Promise<T>): Promise<T> {
    this.#pending++;
    try {
      return await p;
    } finally {
      this.#settledOne();
    }
  }

  /** pg's `drain`: emitted once no statement or stream of this client is left running (after their callbacks). */
  #settledOne(): void {
    if (--this.#pending === 0) setImmediate(() => this.#pending === 0 && this.emit('drain'));
  }

  /** `afterStream`: the statement waited for a stream issued before it (see `[SUBMIT]`) and goes now. */
  #run(text: unknown, values: unknown, afterStream = false): Promise<QueryResult> {
    if (this.#ended) return Promise.reject(new DbRouterError('CLIENT_RELEASED', 'Client was closed and is not queryable'));
    if (!afterStream && this.#submitting !== undefined) return this.#submitting.then(() => this.#run(text, values, true));
    text = withStatementText(text, this.#host.statements);
    let sql: string;
    try {
      sql = textOf(text);
    } catch (e) {
      return Promise.reject(asError(e));
    }
    if (this.#types !== undefined) text = typeof text === 'string' ? { text, values, types: this.#types } : { types: this.#types, ...(text as object) };
    if (this.#binding.boundAlias === undefined && !this.#binding.released) {
      const steps = sessionSetup(sql);
      if (steps !== undefined) return this.#setup(text, values, steps);
    }
    return this.#binding.query(sql, [text, values] as const);
  }

  /** @internal Runs `sub` where its statement belongs; `after` once it is over. */
  [SUBMIT](sub: Submittable, after?: () => void): void {
    // Statements and streams reach a connection in the order they were issued, as on pg's client:
    // whatever comes after a stream waits until the stream is on its connection (a `ROLLBACK`
    // after a failing streamed `INSERT` must not overtake it).
    const prior = this.#submitting;
    const gate = prior === undefined ? this.#submitNow(sub, after) : prior.then(() => this.#submitNow(sub, after));
    this.#submitting = gate;
    void gate.then(() => {
      if (this.#submitting === gate) this.#submitting = undefined;
    });
  }

  /** Submits `sub` where its statement belongs; resolves once it is on its connection (or failed to get one). */
  #submitNow(sub: Submittable, after?: () => void): Promise<void> {
    const sql = submittableText(sub);
    // A statement we cannot read (a custom submittable) runs on the primary.
    const held = this.#binding.stream(sql ?? 'SELECT pg_current_wal_lsn() FOR UPDATE');
    // As pg does for its client's own parsers: the node connection's client would install its defaults.
    const result = (sub as { _result?: { _types?: unknown } })._result;
    if (this.#types !== undefined && result !== undefined && result._types === undefined) result._types = this.#types;
    runSubmittable(sub, held, after);
    // Reactions run in order: this one after runSubmittable's, which submits.
    return held.then(() => undefined, () => undefined);
  }

  /** Gives the client back. Pass an error (or `true`) to destroy its connections instead of reusing them. Twice throws `CLIENT_RELEASED`. */
  release(err?: Error | boolean): void {
    this.#binding.release(err);
    this.#released = true;
    this.#onRelease?.();
    // As pg-pool's idle listener: an error emitted on a client after its release reaches the
    // pool's `error` event (with `err.client`), instead of crashing the process unheard.
    this.once('error', (e: unknown) => {
      if (e instanceof Error) (e as Error & { client?: RoutedPgClient }).client = this;
      this.#host.releasedError(e, this);
    });
    const held = [...this.#held.values()];
    this.#held.clear();
    const reset = this.#settings.length > 0;
    this.#settings = [];
    for (const p of held) {
      p.then((c) => {
        this.#inUse.delete(c);
        this.#host.release(c, err, reset);
      }, () => {});
    }
  }

  /**
   * `pg.Client#connect` for a client of a driver module (see `pgDriver`): nothing to open, since
   * the client takes node connections as it needs them.
   */
  connect(): Promise<this>;
  connect(callback: (err: Error | null, client?: this) => void): void;
  connect(callback?: (err: Error | null, client?: this) => void): Promise<this> | undefined {
    // pg refuses a second connect(): a client is one session, never reused.
    const p = this.#connected || this.#released
      ? Promise.reject(new DbRouterError('CLIENT_RELEASED', 'This client was already connected; a client is not reused. Make a new Client (or check one out with pool.connect()).'))
      : Promise.resolve(this);
    this.#connected = true;
    if (callback === undefined) return p;
    callBack(p, callback);
    return undefined;
  }

  /** Gives back every connection this client holds and emits `end` (pg's `client.end()`). */
  end(): Promise<void>;
  end(callback: (err?: Error) => void): void;
  end(callback?: (err?: Error) => void): Promise<void> | undefined {
    this.#ended = true;
    // As pg's end() with a statement running: its connection closes, the statement fails with
    // 'Connection terminated' (before `end` is emitted) and the server stops it. A one-shot read
    // of a client that holds no connection runs on the pool and is not stopped.
    const closing: Promise<unknown>[] = [];
    for (const c of this.#inUse) {
      if (running(c)) closing.push(Promise.resolve((c as { end?: () => unknown }).end?.()).catch(() => {}));
    }
    const closed = closing.length === 0 ? Promise.resolve() : Promise.all(closing).then(() => undefined);
    if (!this.#released) {
      // pg's end() closes the session: a connection that carries this client's session state (a
      // temporary table, LISTEN, a prepared statement, an open transaction) is closed, not lent on.
      this.release(this.#binding.boundAlias !== undefined ? true : undefined);
      void closed.then(() => this.emit('end'));
    }
    if (callback === undefined) return closed;
    void closed.then(() => process.nextTick(callback));
    return undefined;
  }

  /** `str` as a quoted SQL string literal (node-postgres's `escapeLiteral`; needs `pg` installed). */
  escapeLiteral(str: string): string {
    return pg().escapeLiteral(str);
  }

  /** `str` as a quoted SQL identifier (node-postgres's `escapeIdentifier`; needs `pg` installed). */
  escapeIdentifier(str: string): string {
    return pg().escapeIdentifier(str);
  }

  /** A type parser for this client's queries only, as pg's `client.setTypeParser`. */
  setTypeParser(oid: number, format: unknown, parser?: unknown): void {
    this.#types ??= new (pg().TypeOverrides)();
    this.#types.setTypeParser(oid, format, parser);
  }

  /** The parser this client uses for type `oid`: one set with `setTypeParser`, else node-postgres's global one. */
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    return (this.#types ?? new (pg().TypeOverrides)()).getTypeParser(oid, format) as (value: string) => unknown;
  }

  /**
   * pg's `client.getTransactionStatus()`: the held connection's own (`'E'` after an error inside a
   * transaction, until `ROLLBACK`); `'T'` inside a transaction, `'I'` otherwise.
   */
  getTransactionStatus(): 'I' | 'T' | 'E' {
    const own = (this.#binding.held?.conn as { getTransactionStatus?: () => unknown } | undefined)?.getTransactionStatus?.();
    if (own === 'I' || own === 'T' || own === 'E') return own;
    return this.#binding.boundAlias !== undefined && this.#binding.inTransaction ? 'T' : 'I';
  }

  /** Nothing to keep the event loop alive for: a routed client holds its connections through pools. */
  ref(): void {}

  /** Nothing to let go of: see `ref()`. */
  unref(): void {}

  /** The primary's settings, as pg's `client.user` / `database` / `host` / `port`. */
  get user(): string | undefined {
    return this.#host.config.user;
  }

  /** See `user`. */
  get database(): string | undefined {
    return this.#host.config.database;
  }

  /** See `user`; `localhost` when the primary names none. */
  get host(): string {
    return this.#host.config.host ?? 'localhost';
  }

  /** See `user`; 5432 when the primary names none. */
  get port(): number {
    return this.#host.config.port ?? 5432;
  }

  /** pg's `client.binary`: whether its node connections ask for results in binary (the pool's `binary`). */
  get binary(): boolean {
    return (this.#host.config as { binary?: unknown }).binary === true;
  }

  /** pg's `client.pipeline`: whether its node connections pipeline their statements (the pool's `pipeline`). */
  get pipeline(): boolean {
    return (this.#host.config as { pipeline?: unknown }).pipeline === true;
  }

  /** No single backend serves a routed client. */
  get processID(): null {
    return null;
  }

  /** pg's `client.activeQuery`: a routed client's queries run on node connections, so none here. */
  get activeQuery(): null {
    return null;
  }

  /** pg's `client.queryQueue`: always empty, for the same reason as `activeQuery`. */
  get queryQueue(): readonly unknown[] {
    return IDLE_QUERY_QUEUE;
  }

  /**
   * pg's `client.connection` (the protocol connection). A routed client has several or none, so
   * this is an event emitter that never emits: listeners such as Sequelize's `parameterStatus` are
   * accepted and stay silent.
   */
  get connection(): Connection {
    return (this.#connection ??= new EventEmitter()) as Connection;
  }

  /** What `console.log` and `util.inspect` show: the alias the client is bound to, if any, and whether it was released. */
  [inspect.custom](): string {
    return `RoutedPgClient { boundAlias: ${String(this.boundAlias)}, released: ${this.#released} }`;
  }
}

/** A node-postgres client with a statement running or queued (duck-typed: a fake client has neither). */
function running(c: PgClientLike): boolean {
  const pgClient = c as { _getActiveQuery?: () => unknown; _queryQueue?: readonly unknown[] };
  return (pgClient._getActiveQuery?.() ?? null) !== null || (pgClient._queryQueue?.length ?? 0) > 0;
}

function destroyPgClients(p: PgPoolLike): void {
  const clients = (p as unknown as { _clients?: { connection?: { stream?: { destroy(): void } } }[] })._clients ?? [];
  for (const c of clients) c.connection?.stream?.destroy();
}

function pg(): PgModule {
  return PG ?? loadDriver<PgModule>('pg');
}

// `instanceof pg.Pool` / `pg.Client` (Prisma's `PrismaPg` checks the pool) holds for the `pg` the
// application resolves. Our classes define every public member, so nothing of pg's runs on them.
if (PG !== undefined) {
  Object.setPrototypeOf(RoutedPgPool.prototype, PG.Pool.prototype);
  Object.setPrototypeOf(RoutedPgClient.prototype, PG.Client.prototype);
}

function defaultCreate(config: PoolConfig): PgPoolLike {
  const mod = loadDriver<{ Pool: new (c: PoolConfig) => PgPoolLike }>('pg');
  return new mod.Pool(config);
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
