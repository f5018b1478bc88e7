/**
 * `dbrouter/mariadb`: a routed pool with the `mariadb` connector's promise API over a
 * MySQL/MariaDB cluster (for Prisma's MariaDB adapter and other code written for that connector).
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { commentMysqlArgs } from './sql-comment.js';
import { DbRouterError } from '../../errors.js';
import { CLOSE_NODE_CONNECTIONS, INTERNALS, type ClusterInternals, type ConnectionOptions, type HasInternals } from '../../routing/contracts.js';
import { DEFAULT_CONNECT_TIMEOUT_MILLIS, DEFAULT_KEEPALIVE_DELAY_MILLIS } from '../bounds.js';
import { cutForDownNode } from '../engine.js';
import { Binding, dispatch, type NodeRunner } from '../../routing/dispatch.js';
import { readOnlyInternals } from '../read-only.js';
import { loadDriver } from '../driver.js';

/** A statement as the `mariadb` connector takes it: text, or an options object with `sql`. */
export type MariadbQueryInput = string | {
  /** The SQL text: what routing classifies. */
  readonly sql: string;
  readonly [k: string]: unknown;
};

/** The part of a `mariadb` connector pool connection dbrouter uses. */
export interface MariadbConnectionLike {
  /** Runs one statement (text protocol) on this connection. */
  query(sql: unknown, values?: unknown): Promise<unknown>;
  /** Runs one statement as a prepared statement (binary protocol) on this connection. */
  execute(sql: unknown, values?: unknown): Promise<unknown>;
  /** Runs one statement once per row of `values` (the connector's bulk `batch`) on this connection. */
  batch?(sql: unknown, values?: unknown): Promise<unknown>;
  /** Gives the connection back to its pool. */
  release(): Promise<void> | void;
  /** Closes the connection instead of reusing it (after a connection error). */
  destroy?(): void;
  /** Listens for the connection's background errors. */
  on?(event: 'error', fn: (err: unknown) => void): unknown;
  /** Stops listening. */
  off?(event: 'error', fn: (err: unknown) => void): unknown;
}

/** The part of a `mariadb` connector pool dbrouter uses: a real one, or a fake in tests. */
export interface MariadbPoolLike {
  /** One statement on a connection of this node's pool (one-shot reads and writes). */
  query(sql: unknown, values?: unknown): Promise<unknown>;
  /** The same as a prepared statement (binary protocol). */
  execute(sql: unknown, values?: unknown): Promise<unknown>;
  /** One statement once per row of `values` (the connector's bulk `batch`). */
  batch?(sql: unknown, values?: unknown): Promise<unknown>;
  /** Checks out a connection of this node (transactions, session state). */
  getConnection(): Promise<MariadbConnectionLike>;
  /** The connector's counters of this node's pool. */
  totalConnections?(): number;
  /** Connections of this node's pool running something. */
  activeConnections?(): number;
  /** Connections of this node's pool waiting to be used. */
  idleConnections?(): number;
  /** Requests of this node's pool waiting for a connection. */
  taskQueueSize?(): number;
  /** The connector's value escaping, with this pool's settings. */
  escape?(value: unknown): string;
  /** The connector's identifier escaping, with this pool's settings. */
  escapeId?(identifier: string): string;
  /** Closes every connection of this node's pool; called once by the routed pool's `end()`. */
  end(): Promise<void>;
  /** Listens for the pool's background errors (re-emitted as the routed pool's `'error'`) and for connections it hands out (`'acquire'`). */
  on?(event: 'error' | 'acquire' | 'connection' | 'release' | 'enqueue', fn: (arg: never) => void): unknown;
}

/** The connector's own connection object, as its pool's `'acquire'` event hands it out. */
interface RawConnection {
  readonly socket?: { readonly destroyed?: boolean; destroy(err?: Error): void; once(event: 'close', fn: () => void): unknown };
}

/** Options of {@link createMariadbPool}. All optional: one `mariadb` connector pool per node, opened lazily. */
export interface RoutedMariadbPoolOptions {
  /**
   * Makes the real pool of one node from its connector settings and alias; default the `mariadb`
   * connector's `createPool(config)`. Called once per node, on the first statement that goes there.
   */
  readonly createPool?: (config: Record<string, unknown>, alias: string) => MariadbPoolLike;
  /**
   * A read-only pool: a statement that changes data or schema, takes a lock writers wait on, or
   * that the classifier cannot vouch for is refused with `READ_ONLY` before it reaches any server,
   * on the pool and its connections (the rule of `cluster.readOnly()`). Reads are routed as on
   * any pool; transactions, savepoints and session settings run.
   */
  readonly readOnly?: boolean;
}

type Method = 'query' | 'execute' | 'batch';
type Args = readonly [Method, unknown, unknown];

/** Runs `a` with the method it names on a node's pool or connection. */
function callOn(target: MariadbPoolLike | MariadbConnectionLike, a: Args): Promise<unknown> {
  if (a[0] === 'query') return target.query(a[1], a[2]);
  if (a[0] === 'execute') return target.execute(a[1], a[2]);
  if (target.batch === undefined) return Promise.reject(new TypeError('this node pool has no batch(); createPool must return a `mariadb` connector pool'));
  return target.batch(a[1], a[2]);
}

function textOf(input: unknown): string {
  if (typeof input === 'string') return input;
  if (typeof input === 'object' && input !== null && typeof (input as { sql?: unknown }).sql === 'string') return (input as { sql: string }).sql;
  throw new TypeError('query() takes SQL text or an options object with a `sql` property');
}

/** `mariadb` connector settings for one node; the password stays non-enumerable. */
function mariadbConfig(c: ConnectionOptions, onConnect: readonly string[]): Record<string, unknown> {
  const config: Record<string, unknown> = {
    host: c.host,
    port: c.port,
    ...(c.user !== undefined ? { user: c.user } : {}),
    ...(c.database !== undefined ? { database: c.database } : {}),
    ...(c.ssl !== undefined && c.ssl !== false ? { ssl: c.ssl === true ? {} : c.ssl } : {}),
    ...(c.pool.max !== undefined ? { connectionLimit: c.pool.max } : {}),
    ...(c.pool.idleTimeoutMillis !== undefined ? { idleTimeout: Math.ceil(c.pool.idleTimeoutMillis / 1000) } : {}),
    // The connector waits 10 s for a connection by default: dbrouter's connect bound instead.
    acquireTimeout: c.pool.connectionTimeoutMillis ?? DEFAULT_CONNECT_TIMEOUT_MILLIS,
    ...(c.pool.connectionTimeoutMillis !== undefined ? { connectTimeout: c.pool.connectionTimeoutMillis } : {}),
    // The connector's own set-up list: run on every new connection before it is handed out.
    ...(onConnect.length > 0 ? { initSql: [...onConnect] } : {}),
    // TCP keepalive (the connector's default is off): a connection to a peer that went silent fails
    // once the operating system's probes go unanswered, even with no health monitor.
    keepAliveDelay: DEFAULT_KEEPALIVE_DELAY_MILLIS,
    ...c.driverOptions,
  };
  if (c.password !== undefined) Object.defineProperty(config, 'password', { value: c.password, enumerable: false, writable: true, configurable: true });
  return config;
}

function ended(): DbRouterError {
  return new DbRouterError('POOL_ENDED', 'Cannot use a pool after calling end() on it; create a new pool with createMariadbPool(cluster).');
}

/**
 * A pool with the `mariadb` connector's API (`query`, `execute`, `getConnection`, `end`) that
 * routes: reads to replicas, writes and transactions to the primary, with read-your-writes and
 * health as the mysql2 pool. Each node has a real `mariadb` connector pool inside, so results
 * keep the connector's shape (rows with `meta`, `insertId` as a BigInt). What Prisma's
 * `@prisma/adapter-mariadb` takes.
 *
 * @example
 *   import { PrismaMariaDb } from '@prisma/adapter-mariadb';
 *   import { createMariadbPool } from 'dbrouter/mariadb';
 *   const prisma = new PrismaClient({ adapter: new PrismaMariaDb(createMariadbPool(cluster)) });
 */
export class RoutedMariadbPool extends EventEmitter {
  readonly #cx: ClusterInternals;
  readonly #create: (config: Record<string, unknown>, alias: string) => MariadbPoolLike;
  readonly #inner: (MariadbPoolLike | undefined)[];
  /** Connections of each node that ran something (see `CLOSE_NODE_CONNECTIONS`). */
  readonly #open: Set<RawConnection>[] = [];
  readonly #runner: NodeRunner<Args, unknown, MariadbConnectionLike>;
  #ended = false;
  #ending: Promise<void> | undefined;

  /** The same as {@link createMariadbPool}. Throws `ENGINE_MISMATCH` for a PostgreSQL cluster. */
  constructor(cluster: HasInternals, options: RoutedMariadbPoolOptions = {}) {
    super();
    this.#cx = options.readOnly === true ? readOnlyInternals(cluster[INTERNALS]) : cluster[INTERNALS];
    if (this.#cx.engine.name !== 'mysql') {
      throw new DbRouterError('ENGINE_MISMATCH', `createMariadbPool() needs a MySQL/MariaDB cluster, but this one is ${this.#cx.engine.name}; use createPgPool(cluster).`);
    }
    this.#create = options.createPool ?? ((config) => loadDriver<{ createPool(c: Record<string, unknown>): MariadbPoolLike }>('mariadb').createPool(config));
    this.#inner = this.#cx.nodes.map(() => undefined);
    this.#runner = {
      query: (i, a) => callOn(this.#pool(i), a),
      acquire: (i) => this.#pool(i).getConnection(),
      queryOn: (c, a) => callOn(c, a),
      comment: commentMysqlArgs,
      release: (c, err) => {
        if (err !== undefined && err !== false && c.destroy !== undefined) c.destroy();
        else void Promise.resolve(c.release()).catch((e: unknown) => this.#background(e));
      },
      rows: async (i, sql) => (await this.#pool(i).query(sql)) as Record<string, unknown>[],
    };
    this.#cx.track(this);
  }

  #pool(index: number): MariadbPoolLike {
    const existing = this.#inner[index];
    if (existing !== undefined) return existing;
    const node = this.#cx.nodes[index]!;
    const p = this.#create(mariadbConfig(node.connection, this.#cx.onConnect ?? []), node.alias);
    p.on?.('error', (err: unknown) => this.#background(err));
    // The connector's pool events, as on its own pool: 'connection' with a new connection of any
    // node ('pool.on("connection", (c) => c.query("SET ..."))' sets up every node), 'acquire' and
    // 'release' with the connection, 'enqueue' when a request waits for one.
    for (const event of ['connection', 'acquire', 'release', 'enqueue'] as const) {
      p.on?.(event, (conn: unknown) => (event === 'enqueue' ? this.emit(event) : this.emit(event, conn)));
    }
    // Every statement, one-shot or on a checked-out connection, runs on a connection the pool has
    // just handed out with 'acquire': a connection in flight is always among these.
    const open = new Set<RawConnection>();
    this.#open[index] = open;
    p.on?.('acquire', (conn: RawConnection) => {
      if (open.has(conn) || conn.socket === undefined) return;
      open.add(conn);
      conn.socket.once('close', () => open.delete(conn));
    });
    this.#inner[index] = p;
    return p;
  }

  #background(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else this.#cx.backgroundError(err);
  }

  #run(method: Method, input: unknown, values: unknown): Promise<unknown> {
    if (this.#ended) return Promise.reject(ended());
    const cx = this.#cx;
    if (!cx.isReady) return cx.ready().then(() => this.#run(method, input, values));
    try {
      const sql = textOf(input);
      return dispatch(cx, this.#runner, sql, [method, input, values] as const, cx.route(sql));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** The connector's `pool.query(sql, values?)`, routed. */
  query(sql: MariadbQueryInput, values?: unknown): Promise<unknown> {
    return this.#run('query', sql, values);
  }

  /** The connector's `pool.execute(sql, values?)` (binary protocol, prepared), routed. */
  execute(sql: MariadbQueryInput, values?: unknown): Promise<unknown> {
    return this.#run('execute', sql, values);
  }

  /**
   * The connector's `pool.batch(sql, values)`: one statement run once per row of `values` (an
   * array of arrays), in one bulk round trip where the server supports it. Routed as the statement
   * itself: a bulk `INSERT` goes to the primary.
   *
   * @example
   *   await pool.batch('INSERT INTO items (name) VALUES (?)', [['a'], ['b']]);
   */
  batch(sql: MariadbQueryInput, values?: unknown): Promise<unknown> {
    return this.#run('batch', sql, values);
  }

  /**
   * The connector's `escape(value)`: `value` as a SQL literal, by a node pool's settings (the first
   * one opened, else the primary's, which this opens).
   */
  escape(value: unknown): string {
    const p = this.#anyPool();
    if (p.escape === undefined) throw new TypeError('this node pool has no escape(); createPool must return a `mariadb` connector pool');
    return p.escape(value);
  }

  /** The connector's `escapeId(identifier)`: `identifier` quoted with backticks where it needs them (as `escape`). */
  escapeId(identifier: string): string {
    const p = this.#anyPool();
    if (p.escapeId === undefined) throw new TypeError('this node pool has no escapeId(); createPool must return a `mariadb` connector pool');
    return p.escapeId(identifier);
  }

  #anyPool(): MariadbPoolLike {
    if (this.#ended) throw ended();
    return this.#inner.find((p) => p !== undefined) ?? this.#pool(this.#cx.primary().index);
  }

  #sum(count: (p: MariadbPoolLike) => number | undefined): number {
    let n = 0;
    for (const p of this.#inner) if (p !== undefined) n += count(p) ?? 0;
    return n;
  }

  /** Connections open across the node pools (the sum of each node's `totalConnections()`; a node not used yet has none). */
  totalConnections(): number {
    return this.#sum((p) => p.totalConnections?.());
  }

  /** Connections running something, summed over the node pools. */
  activeConnections(): number {
    return this.#sum((p) => p.activeConnections?.());
  }

  /** Idle connections, summed over the node pools. */
  idleConnections(): number {
    return this.#sum((p) => p.idleConnections?.());
  }

  /** Requests waiting for a connection, summed over the node pools. */
  taskQueueSize(): number {
    return this.#sum((p) => p.taskQueueSize?.());
  }

  /** Each node's pool as the connector describes it (counts only), for logs: `routedMariadbPool(default: active=0 idle=1, replica1: not opened)`. */
  override toString(): string {
    const parts = this.#cx.nodes.map((n, i) => {
      const p = this.#inner[i];
      if (p === undefined) return `${n.alias}: not opened`;
      return `${n.alias}: active=${p.activeConnections?.() ?? 0} idle=${p.idleConnections?.() ?? 0}`;
    });
    return `routedMariadbPool(${parts.join(', ')})`;
  }

  /** A lazily binding connection: reads on replicas until it writes or begins a transaction, then the primary until `release()`. */
  async getConnection(): Promise<RoutedMariadbConnection> {
    if (this.#ended) throw ended();
    if (!this.#cx.isReady) await this.#cx.ready();
    return new RoutedMariadbConnection(new Binding(this.#cx, this.#runner), this);
  }

  /**
   * @internal Destroys this pool's connections to node `index` (its health checks failed): their
   * sockets are destroyed with a `NODE_DOWN` error, which the connector hands to the statement in
   * flight. The connector's own `destroy()` would not do: with a statement running it first
   * connects again to the same server to KILL it, which a silent server never answers.
   */
  [CLOSE_NODE_CONNECTIONS](index: number, reason: string): number {
    const open = this.#open[index];
    if (open === undefined) return 0;
    const alias = this.#cx.nodes[index]!.alias;
    let n = 0;
    for (const c of open) {
      open.delete(c);
      if (c.socket === undefined || c.socket.destroyed === true) continue;
      c.socket.destroy(cutForDownNode(alias, reason));
      n += 1;
    }
    return n;
  }

  /** Ends every node's pool; idempotent. */
  end(): Promise<void> {
    if (this.#ending === undefined) {
      this.#ended = true;
      this.#cx.untrack(this);
      this.#ending = Promise.all(this.#inner.map((p) => (p === undefined ? Promise.resolve() : p.end()))).then(() => undefined);
    }
    return this.#ending;
  }

  /** Whether `end()` was called. */
  get closed(): boolean {
    return this.#ended;
  }
}

/** A checked-out connection of a {@link RoutedMariadbPool}, with the connector's connection API. */
export class RoutedMariadbConnection extends EventEmitter {
  readonly #binding: Binding<Args, unknown, MariadbConnectionLike>;
  readonly #pool: RoutedMariadbPool;

  /** @internal Connections come from `pool.getConnection()`. */
  constructor(binding: Binding<Args, unknown, MariadbConnectionLike>, pool: RoutedMariadbPool) {
    super();
    this.#binding = binding;
    this.#pool = pool;
  }

  #run(method: Method, input: unknown, values: unknown): Promise<unknown> {
    try {
      return this.#binding.query(textOf(input), [method, input, values] as const);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /**
   * The connector's `conn.query(sql, values?)`, routed: a read on a replica while the connection is
   * not bound; a write, a transaction or session state on the primary, which binds it until
   * `release()`. Rejects with `CLIENT_RELEASED` after `release()`.
   */
  query(sql: MariadbQueryInput, values?: unknown): Promise<unknown> {
    return this.#run('query', sql, values);
  }

  /** As `query`, as a prepared statement (binary protocol). */
  execute(sql: MariadbQueryInput, values?: unknown): Promise<unknown> {
    return this.#run('execute', sql, values);
  }

  /** The connector's `conn.batch(sql, values)`, routed as `query`: inside a transaction, on the held primary connection. */
  batch(sql: MariadbQueryInput, values?: unknown): Promise<unknown> {
    return this.#run('batch', sql, values);
  }

  /** As the pool's `escape`. */
  escape(value: unknown): string {
    return this.#pool.escape(value);
  }

  /** As the pool's `escapeId`. */
  escapeId(identifier: string): string {
    return this.#pool.escapeId(identifier);
  }

  /** `START TRANSACTION` on the primary; the connection stays there until released. */
  async beginTransaction(): Promise<void> {
    await this.#run('query', 'START TRANSACTION', undefined);
  }

  /** `COMMIT` on the held connection. */
  async commit(): Promise<void> {
    await this.#run('query', 'COMMIT', undefined);
  }

  /** `ROLLBACK` on the held connection. */
  async rollback(): Promise<void> {
    await this.#run('query', 'ROLLBACK', undefined);
  }

  /** A round trip (`SELECT 1`) where the next statement would go: a replica while unbound. */
  async ping(): Promise<void> {
    await this.#run('query', 'SELECT 1', undefined);
  }

  /** The alias this connection holds (after a write or a transaction began), if any. */
  get boundAlias(): string | undefined {
    return this.#binding.boundAlias;
  }

  /** Gives the connection back. A second call throws `CLIENT_RELEASED`. */
  release(): Promise<void> {
    this.#binding.release();
    return Promise.resolve();
  }

  /** As the connector's `end()` on a pool connection: gives it back. */
  end(): Promise<void> {
    if (!this.#binding.released) this.#binding.release();
    return Promise.resolve();
  }

  /** Closes the held physical connection instead of giving it back. */
  destroy(): void {
    if (!this.#binding.released) this.#binding.release(new Error('destroyed'));
  }
}

/**
 * A routed pool with the `mariadb` connector's API over a MySQL/MariaDB cluster.
 *
 * @example
 *   const adapter = new PrismaMariaDb(createMariadbPool(cluster));
 */
export function createMariadbPool(cluster: HasInternals, options?: RoutedMariadbPoolOptions): RoutedMariadbPool {
  return new RoutedMariadbPool(cluster, options);
}
