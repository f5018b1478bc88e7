import { DbRouterError } from '../../errors.js';
import type { HasInternals } from '../../routing/contracts.js';
import { loadDriver } from '../driver.js';
import { QUERY_OPTION_KEYS, RoutedMysqlConnection, RoutedMysqlPool, type RoutedMysqlCallbackPool } from './routed-pool.js';

/** What a driver module keeps of the config an ORM hands `createPool`/`createConnection`: mysql2's per-query options. */
function queryOptionsOf(config: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof config !== 'object' || config === null) return out;
  for (const k of QUERY_OPTION_KEYS) {
    const v = (config as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** `{ multipleStatements: true }` when the config a driver module is handed asks for it (mysql2's connection flag). */
function multipleStatementsOf(config: unknown): { multipleStatements?: true } {
  return typeof config === 'object' && config !== null && (config as { multipleStatements?: unknown }).multipleStatements === true ? { multipleStatements: true } : {};
}

/**
 * A connection from a driver module's `createConnection()`: a lazily binding routed connection
 * that lives until `end()`/`destroy()`, as a mysql2 `Connection` does. It emits `'connect'` on
 * the next tick (Sequelize waits for it); `connect(cb)` answers at once (Knex).
 */
export class RoutedMysqlStandaloneConnection extends RoutedMysqlConnection {
  #closed = false;
  #closeCalled = false;
  readonly #onClose: () => void;

  /** @internal Made by `mysqlDriver(cluster).createConnection(config)`. */
  constructor(pool: RoutedMysqlPool, queryOptions: Readonly<Record<string, unknown>>, onClose: () => void) {
    super(pool, queryOptions, true);
    this.#onClose = onClose;
    process.nextTick(() => this.emit('connect'));
  }

  /** What Sequelize and Knex look at to validate a mysql2 connection. */
  get _closing(): boolean {
    return this.#closed;
  }

  /** mysql2's socket, as far as its validators look at it. */
  get stream(): {
    /** True once this connection was ended or destroyed. */
    readonly destroyed: boolean;
  } {
    return { destroyed: this.#closed };
  }

  override end(callback: (err: Error | null) => void): void;
  override end(options: unknown, callback: (err: Error | null) => void): void;
  override end(options?: unknown): Promise<void>;
  override end(options?: unknown, callback?: (err: Error | null) => void): Promise<void> | undefined {
    // As mysql2's: statements issued before end() still run; the shared pool may close after them.
    const p = super.end().then(() => this.#close());
    this.#closed = true;
    const cb = typeof options === 'function' ? (options as (err: Error | null) => void) : callback;
    if (cb === undefined) return p;
    p.then(() => cb(null), (e: Error) => cb(e));
    return undefined;
  }

  override destroy(): void {
    super.destroy();
    this.#closed = true;
    this.#close();
  }

  /** `using conn = mysql.createConnection()`: ends it, as mysql2's connection (a pool checkout is released instead). */
  override [Symbol.dispose](): void {
    if (this.#closed) return;
    this.end().catch((e: unknown) => {
      if (this.listenerCount('error') > 0) this.emit('error', e);
    });
  }

  /** `await using conn = …`: ends it and waits for the end, as mysql2/promise's connection. */
  override [Symbol.asyncDispose](): Promise<void> {
    return this.#closed ? Promise.resolve() : this.end();
  }

  #close(): void {
    if (this.#closeCalled) return;
    this.#closeCalled = true;
    this.#onClose();
  }
}

/** The parts of the `mysql2` module an ORM calls, built over a cluster (see {@link mysqlDriver}). */
export interface MysqlDriverModule {
  /** A routed pool (callback-first, as `mysql2.createPool`); `config` keeps only mysql2's per-query options and `multipleStatements`. */
  createPool(config?: unknown): RoutedMysqlCallbackPool;
  /** A lazily binding routed connection (as `mysql2.createConnection`); `config` keeps only mysql2's per-query options and `multipleStatements`. */
  createConnection(config?: unknown): RoutedMysqlStandaloneConnection;
  /** Refused: the cluster already knows its primary and replicas; drop the ORM's replication setting. */
  createPoolCluster(): never;
  /** mysql2's `escape`: `value` as an SQL literal (needs `mysql2` installed, as every member here). */
  escape(value: unknown): string;
  /** mysql2's `escapeId`: a quoted identifier (`forbidQualified`: a dot is not a qualifier). */
  escapeId(value: unknown, forbidQualified?: boolean): string;
  /** mysql2's `format`: `?` and `??` placeholders filled in with escaped values. */
  format(sql: string, values?: unknown): string;
  /** mysql2's `raw`: a value that `format` and `escape` insert as is (`raw('NOW()')`). */
  raw(sql: string): unknown;
  /** mysql2's `Types`: column type codes by name (`DATETIME: 12`, …), for `typeCast`. */
  readonly Types: Readonly<Record<string, number>>;
  /** mysql2's `Charsets`: collation ids by name. */
  readonly Charsets: Readonly<Record<string, number>>;
  /** mysql2's `CharsetToEncoding`: the Node encoding of each collation id. */
  readonly CharsetToEncoding: readonly string[];
}

interface Mysql2Module {
  escape(v: unknown): string;
  escapeId(v: unknown, f?: boolean): string;
  format(s: string, v?: unknown): string;
  raw(s: string): unknown;
  Types: Record<string, number>;
  Charsets: Record<string, number>;
  CharsetToEncoding: string[];
}

/**
 * A stand-in for the `mysql2` module, built from a cluster, for libraries that take a driver
 * module rather than a pool: TypeORM's `driver`, Sequelize's `dialectModule` (mysql dialect),
 * MikroORM's driver options. Connection settings come from the cluster; of the config the library
 * passes, only mysql2's per-query options (`typeCast`, `timezone`, `dateStrings`,
 * `supportBigNumbers`, `decimalNumbers`, `jsonStrings`, ...) and `multipleStatements` are kept.
 * Connections from `createConnection` share a routed pool (one per `multipleStatements` setting),
 * ended when the last of them ends (so `sequelize.close()` lets the process exit).
 *
 * @example
 *   new DataSource({ type: 'mysql', driver: mysqlDriver(cluster), ... })         // TypeORM
 *   new Sequelize({ dialect: 'mysql', dialectModule: mysqlDriver(cluster) })     // Sequelize 6
 *   mysqlDriver(cluster, { readOnly: true })                                     // writes refused: READ_ONLY
 */
export function mysqlDriver(cluster: HasInternals, options: { readonly readOnly?: boolean } = {}): MysqlDriverModule {
  const readOnly = options.readOnly === true ? { readOnly: true } : {};
  const mysql = (): Mysql2Module => loadDriver<Mysql2Module>('mysql2');
  // Connections share a pool, one per multipleStatements setting (a connection-level flag of mysql2's).
  const shared = new Map<boolean, { pool: RoutedMysqlPool; open: number }>();
  return {
    createPool: (config) => new RoutedMysqlPool(cluster, { ...readOnly, ...multipleStatementsOf(config), queryOptions: queryOptionsOf(config) }).pool,
    createConnection: (config) => {
      const multi = multipleStatementsOf(config);
      const key = multi.multipleStatements === true;
      let entry = shared.get(key);
      if (entry === undefined) {
        entry = { pool: new RoutedMysqlPool(cluster, { ...readOnly, ...multi }), open: 0 };
        shared.set(key, entry);
      }
      const own = entry;
      own.open++;
      return new RoutedMysqlStandaloneConnection(own.pool, queryOptionsOf(config), () => {
        if (--own.open > 0 || shared.get(key) !== own) return;
        shared.delete(key);
        own.pool.end().catch((e: unknown) => own.pool.emit('error', e));
      });
    },
    createPoolCluster: () => {
      throw new DbRouterError('UNSUPPORTED', 'createPoolCluster(): the dbrouter cluster already routes between the primary and its replicas; remove the replication setting from the ORM and give it this driver module alone.');
    },
    escape: (v) => mysql().escape(v),
    escapeId: (v, f) => mysql().escapeId(v, f),
    format: (s, v) => mysql().format(s, v),
    raw: (s) => mysql().raw(s),
    get Types() {
      return mysql().Types;
    },
    get Charsets() {
      return mysql().Charsets;
    },
    get CharsetToEncoding() {
      return mysql().CharsetToEncoding;
    },
  };
}
