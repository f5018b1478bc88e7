import type { PoolConfig } from 'pg';
import type { HasInternals } from '../../routing/contracts.js';
import { loadDriver } from '../driver.js';
import { poolBehaviour, promiseOption, RoutedPgClient, RoutedPgPool, withPromiseLibrary, type PgTypesLike, type RoutedPgPoolOptions } from './routed-pool.js';

/** The parts of the `pg` module a driver module passes through unchanged. */
interface PgModuleParts {
  readonly types: unknown;
  readonly defaults: unknown;
  readonly DatabaseError: unknown;
  readonly Query: unknown;
  readonly Result: unknown;
  readonly TypeOverrides: unknown;
  readonly Connection: unknown;
  readonly utils: unknown;
  escapeLiteral(s: string): string;
  escapeIdentifier(s: string): string;
}

/**
 * A stand-in for the `pg` module whose `Pool` and `Client` route over one cluster: for libraries
 * that take a driver *module* rather than a pool. `new Pool(config)` is a {@link RoutedPgPool};
 * `new Client(config)` is a lazily binding {@link RoutedPgClient} (its `connect()` opens nothing; it
 * takes node connections as it needs them and binds to the primary on its first write or
 * transaction). Where to connect (host, port, user, password, database, connectionString, ssl) is
 * the cluster's and ignored here; the rest of the config is honoured as pg does: pool sizes and
 * timeouts of `new Pool(config)` apply to every node's pool, and session settings of either
 * (`statement_timeout`, `query_timeout`, `application_name`, `types`, …) to the connections they use.
 * `types`, `defaults`, `escapeLiteral`… are pg's own.
 */
export interface PgDriverModule {
  /** As `pg.Pool`: each `new Pool()` is a separate {@link RoutedPgPool} over the cluster, ended by its own `end()`. */
  readonly Pool: {
    /** A routed pool over the cluster; `config` as {@link RoutedPgPoolOptions.poolConfig} takes it. */
    new (config?: PoolConfig): RoutedPgPool;
  };
  /** As `pg.Client`: every `new Client()` takes its connections from one shared routed pool, ended by this module's `end()`. */
  readonly Client: {
    /** A lazily binding routed client (its session settings honoured, not where to connect); `connect()` opens nothing. */
    new (config?: unknown): RoutedPgClient;
  };
  /** pg's `types` (the type parsers), the same object. */
  readonly types: PgModuleParts['types'];
  /** pg's `defaults`, the same object. */
  readonly defaults: PgModuleParts['defaults'];
  /** pg's `DatabaseError` class (a server's error), passed through. */
  readonly DatabaseError: unknown;
  /** pg's `Query` class, passed through. */
  readonly Query: unknown;
  /** pg's `Result` class, passed through. */
  readonly Result: unknown;
  /** pg's `TypeOverrides` class, passed through. */
  readonly TypeOverrides: unknown;
  /** pg's `Connection` class, passed through (connections themselves are the cluster's). */
  readonly Connection: unknown;
  /** pg's `utils`, passed through. */
  readonly utils: unknown;
  /** No native bindings: libraries that look for `pg.native` fall back to this module. */
  readonly native: null;
  /** pg's `escapeLiteral`: `s` as a quoted SQL string literal. */
  escapeLiteral(s: string): string;
  /** pg's `escapeIdentifier`: `s` as a quoted SQL identifier. */
  escapeIdentifier(s: string): string;
  /** Ends the pool behind `Client`s of this module (also ended by `cluster.end()`). */
  end(): Promise<void>;
}

/**
 * A `pg` driver module over a PostgreSQL cluster.
 *
 * @example
 *   const pg = pgDriver(cluster);
 *   new DataSource({ type: 'postgres', driver: pg, ... });          // TypeORM
 *   new Sequelize({ dialect: 'postgres', dialectModule: pg, ... });  // Sequelize
 *   const pgp = pgPromise(); pgp.pg = pg;                            // pg-promise (before pgp(...))
 *   pgDriver(cluster, { readOnly: true });                            // writes refused: READ_ONLY
 */
export function pgDriver(cluster: HasInternals, options: RoutedPgPoolOptions = {}): PgDriverModule {
  const pg = loadDriver<PgModuleParts>('pg');
  // Clients share one routed pool per set of session settings: a Client per ORM connection must
  // not mean a pg.Pool each, and a Client with `statement_timeout` must not lend its connections to one without.
  const clients = new Map<string, RoutedPgPool>();
  const clientPool = (config: unknown): RoutedPgPool => {
    const settings = poolBehaviour(config);
    delete settings.types;
    const key = JSON.stringify(Object.entries(settings).filter(([, v]) => typeof v !== 'function').sort(([a], [b]) => (a < b ? -1 : 1)));
    const existing = clients.get(key);
    if (existing !== undefined && !existing.ending) return existing;
    const made = new RoutedPgPool(cluster, { ...options, poolConfig: settings });
    clients.set(key, made);
    return made;
  };

  class Pool extends RoutedPgPool {
    constructor(config?: PoolConfig) {
      super(cluster, { ...options, poolConfig: { ...options.poolConfig, ...config } });
    }
  }
  // A constructor that returns the routed client: `new Client()` yields a RoutedPgClient (and
  // `instanceof Client` holds, through the shared prototype).
  function Client(this: unknown, config?: { types?: PgTypesLike }): RoutedPgClient {
    // Connection settings are the cluster's; the type parsers are the caller's, as with pg.
    const types = config?.types;
    const client = clientPool(config).client(typeof types?.getTypeParser === 'function' ? types : undefined);
    // pg's `new Client({ Promise })`: this client's promises are the library's (its pool's may not be).
    const lib = promiseOption(config);
    if (lib !== undefined) withPromiseLibrary(client, lib);
    return client;
  }
  Client.prototype = RoutedPgClient.prototype;

  return {
    Pool,
    Client: Client as unknown as PgDriverModule['Client'],
    types: pg.types,
    defaults: pg.defaults,
    DatabaseError: pg.DatabaseError,
    Query: pg.Query,
    Result: pg.Result,
    TypeOverrides: pg.TypeOverrides,
    Connection: pg.Connection,
    utils: pg.utils,
    native: null,
    escapeLiteral: (s) => pg.escapeLiteral(s),
    escapeIdentifier: (s) => pg.escapeIdentifier(s),
    end: async () => {
      const all = [...clients.values()];
      clients.clear();
      await Promise.all(all.map((p) => p.end()));
    },
  };
}
