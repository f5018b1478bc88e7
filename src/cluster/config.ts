import { checkFunction, checkKeys as checkKeysOf, checkMillis, checkObject, checkWhole, invalidConfig, shown, suggest } from '../options.js';
import { engineByName, engineForScheme, SCHEMES } from '../engines/index.js';
import type { ConnectionOptions, Engine, EngineName, PoolOptions, ResolvedNode } from '../routing/contracts.js';
import type { Role, Router } from '../routing/router.js';
import type { SqlCommentFunction } from '../routing/sql-comment.js';
import type { ConsistencyLevel, ConsistencyOptions } from '../consistency/levels.js';
import type { ClusterHealthOptions } from '../health/cluster-health.js';

export type { ResolvedNode };

/**
 * One database in `databases`: a URL, or an object. A replica's missing settings are taken from
 * the primary's, so `{ port: 5433, role: 'replica' }` is enough for a replica on the same host.
 *
 * @example
 *   { default: 'postgres://app:secret@db1:5432/shop',
 *     replica1: { url: 'postgres://app:secret@db2:5432/shop', role: 'replica', weight: 2 } }
 */
export type DatabaseSetting = string | DatabaseObject;

/**
 * One database given as an object: a `url`, separate fields, or both (a field given here wins over
 * the same part of the URL). Mistakes (an unknown key, a wrong type, `master`/`slave`) throw
 * `CONFIG_INVALID` from `createCluster()`, naming the key and what to write instead.
 *
 * @example
 *   { url: process.env.REPLICA_URL, role: 'replica', weight: 2, pool: { max: 20 } }
 *   { host: 'db2.internal', port: 5433, user: 'app', password: process.env.DB_PASSWORD, database: 'shop' }
 */
export interface DatabaseObject {
  /** `postgres://`, `postgresql://`, `mysql://` or `mariadb://` URL; its scheme also tells the engine. */
  readonly url?: string;
  /** Host name or IP address; required when there is no `url`. */
  readonly host?: string;
  /** TCP port; default the URL's, else the engine's (5432 PostgreSQL, 3306 MySQL/MariaDB). */
  readonly port?: number;
  /** User to connect as; default the URL's, else the driver's default. */
  readonly user?: string;
  /** Kept as a non-enumerable property after validation, so it never shows in a log or `JSON.stringify`. */
  readonly password?: string;
  /** Database (schema on MySQL) to connect to; default the URL's path. */
  readonly database?: string;
  /** `primary` or `replica`; asked of the server itself (`pg_is_in_recovery()`, `@@read_only`) when omitted. */
  readonly role?: Role;
  /** Share of reads for the `weighted` strategy; a positive number, 1 by default. */
  readonly weight?: number;
  /** Pool size and timeouts of this node's connection pool, per routed pool. */
  readonly pool?: PoolOptions;
  /** `true`, or the driver's TLS options object (`pg`'s / `mysql2`'s `ssl`), passed on as is. */
  readonly ssl?: boolean | Record<string, unknown>;
  /** Passed to the driver (`pg.Pool`, `mysql2.createPool`) as is. */
  readonly driverOptions?: Readonly<Record<string, unknown>>;
}

/**
 * The cluster's configuration, like Django's `DATABASES` plus `DATABASE_ROUTERS`.
 *
 * @example
 *   createCluster({ databases: { default: process.env.DATABASE_URL!, replica1: process.env.REPLICA_URL! } })
 */
export interface ClusterConfig {
  /**
   * Every node by alias: a URL or a {@link DatabaseObject}. `default` is the primary that takes
   * writes when no router says otherwise (else the first primary); roles not given are asked of
   * the servers.
   */
  readonly databases: Readonly<Record<string, DatabaseSetting>>;
  /** The router chain; the first answer that is not `undefined` wins. Default: `[primaryReplica()]`. */
  readonly routers?: readonly Router[];
  /** Needed only when no database is given as a URL. */
  readonly engine?: EngineName;
  /** Keep a bounded log of routed statements (`cluster.queries`); `true` keeps the last 1000. */
  readonly debug?: boolean | {
    /** How many of the latest statements the log keeps; default 1000. */
    readonly maxEntries?: number;
  };
  /** More functions that write, as pgpool's `write_function_list`: a SELECT calling one goes to the primary. */
  readonly writeFunctions?: readonly string[];
  /** How many statement texts keep their classification cached. */
  readonly classifierCacheSize?: number;
  /** Replaces asking the server for a node's role (tests, or a custom discovery). */
  readonly discoverRole?: (alias: string, connection: ConnectionOptions) => Promise<Role>;
  /** The default consistency level (`session`: read-your-writes) and its settings; see README "Consistency". */
  readonly consistency?: ConsistencyLevel | ConsistencyOptions;
  /**
   * Statements run on every new physical connection of every node, before anything else runs on
   * it: per-connection set-up that is not session state (it binds no connection to the primary).
   *
   * @example
   *   createCluster({ databases, onConnect: ["SET time_zone = '+00:00'"] })
   */
  readonly onConnect?: readonly string[];
  /**
   * Health checking, on by default from the cluster's first use: `false` turns it off, an object
   * tunes it (`{ checkIntervalMillis, checkTimeoutMillis, maxReplicationLagMillis, failoverTimeoutMillis, … }`).
   * See docs/health-and-failover.md.
   */
  readonly health?: boolean | ClusterHealthOptions;
  /**
   * Off by default. `true` appends a sqlcommenter comment to each statement sent, saying where it
   * ran and why (`/*dbrouter_alias='replica1',dbrouter_reason='select'*\/`), so server logs,
   * `pg_stat_activity` and the processlist show it; a function chooses the keys. Never parameters.
   * See docs/observability.md.
   *
   * @example
   *   createCluster({ databases, sqlComment: true })
   */
  readonly sqlComment?: boolean | SqlCommentFunction;
}

/**
 * Marks a database setting that deliberately names the same server as another alias: the read-only
 * "replicas" of `dbrouter/testing` over one test database. A symbol, so no configuration written by
 * hand sets it by mistake.
 */
export const SAME_SERVER: unique symbol = Symbol.for('dbrouter.sameServer');

export interface ResolvedConfig {
  readonly engine: Engine;
  readonly nodes: readonly ResolvedNode[];
}

const TOP_KEYS = ['databases', 'routers', 'engine', 'debug', 'writeFunctions', 'classifierCacheSize', 'discoverRole', 'consistency', 'onConnect', 'health', 'sqlComment'];
const DB_KEYS = ['url', 'host', 'port', 'user', 'password', 'database', 'role', 'weight', 'pool', 'ssl', 'driverOptions'];
const POOL_KEYS = ['max', 'idleTimeoutMillis', 'connectionTimeoutMillis'];
const ALIASES_OF_KEYS: Readonly<Record<string, string>> = {
  username: 'user', pass: 'password', db: 'database', dbname: 'database', name: 'database', hostname: 'host',
  uri: 'url', connectionString: 'url', connectionLimit: 'pool: { max }', master: "role: 'primary'", slave: "role: 'replica'",
};
const ROLE_WORDS: Readonly<Record<string, Role>> = { master: 'primary', slave: 'replica', writer: 'primary', reader: 'replica', standby: 'replica' };

const invalid = invalidConfig;

export { suggest };

function checkKeys(where: string, value: object, known: readonly string[]): void {
  checkKeysOf(where, value, known, ALIASES_OF_KEYS);
}

interface Parsed {
  engine: Engine | undefined;
  host: string | undefined;
  port: number | undefined;
  user: string | undefined;
  password: string | undefined;
  database: string | undefined;
  ssl: boolean | Record<string, unknown> | undefined;
}

const URL_HELP = 'write it as postgres://user:password@host:5432/database (or mysql://, mariadb://, postgresql://)';

function parseUrl(where: string, text: string): Parsed {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw invalid(`${where} is not a valid URL; ${URL_HELP}.`);
  }
  const engine = engineForScheme(u.protocol);
  if (engine === undefined) {
    throw invalid(`${where} has the scheme "${u.protocol.slice(0, -1)}", which names no supported engine; use one of ${SCHEMES.map((s) => `${s}://`).join(', ')}.`);
  }
  if (u.hostname === '') throw invalid(`${where} names no host; ${URL_HELP}.`);
  let sslmode: string | null;
  try {
    sslmode = u.searchParams.get('sslmode') ?? u.searchParams.get('ssl');
  } catch {
    sslmode = null;
  }
  return {
    engine,
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port === '' ? undefined : Number(u.port),
    user: u.username === '' ? undefined : decode(where, 'user name', u.username),
    password: u.password === '' ? undefined : decode(where, 'password', u.password),
    database: u.pathname.length > 1 ? decode(where, 'database name', u.pathname.slice(1)) : undefined,
    ssl: sslmode === null ? undefined : !['disable', 'false', '0', 'allow', 'prefer'].includes(sslmode),
  };
}

// A `%` not followed by two hex digits throws URIError from decodeURIComponent; the message must
// not show the part, which may be the password.
function decode(where: string, part: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw invalid(`${where} has a bad % escape in its ${part}; write a literal % as %25 (encodeURIComponent() encodes a password for a URL).`);
  }
}

const POOL_EXAMPLE = '{ max: 10, idleTimeoutMillis: 10000, connectionTimeoutMillis: 5000 }';

function checkPool(where: string, pool: unknown): void {
  checkObject(where, pool, POOL_EXAMPLE);
  checkKeys(where, pool, POOL_KEYS);
  checkWhole(`${where}.max`, pool.max, 1, Number.MAX_SAFE_INTEGER, 10);
  checkMillis(`${where}.idleTimeoutMillis`, pool.idleTimeoutMillis);
  checkMillis(`${where}.connectionTimeoutMillis`, pool.connectionTimeoutMillis);
}

function checkSsl(where: string, ssl: unknown): void {
  if (ssl === undefined || typeof ssl === 'boolean') return;
  if (typeof ssl === 'object' && ssl !== null && !Array.isArray(ssl)) return;
  throw invalid(`${where} must be true, false or the driver's TLS options such as { rejectUnauthorized: true, ca: fs.readFileSync('ca.pem') }, not ${shown(ssl)}; in a URL write ?sslmode=require.`);
}

function checkText(where: string, value: unknown, example: string): void {
  if (value !== undefined && typeof value !== 'string') throw invalid(`${where} must be a string such as ${example}, not ${shown(value)}.`);
}

interface Draft extends Parsed {
  alias: string;
  role: Role | undefined;
  weight: number;
  pool: PoolOptions;
  driverOptions: Readonly<Record<string, unknown>>;
  scheme: string | undefined;
}

function parseSetting(alias: string, setting: unknown): Draft {
  const where = `databases.${alias}`;
  if (alias.trim() === '') {
    throw invalid(`databases has an empty alias ${JSON.stringify(alias)}; name each database, such as { default: 'postgres://…', replica1: 'postgres://…' }.`);
  }
  if (typeof setting === 'string') {
    const p = parseUrl(where, setting);
    return { ...p, alias, role: undefined, weight: 1, pool: {}, driverOptions: {}, scheme: new URL(setting).protocol.slice(0, -1) };
  }
  if (typeof setting !== 'object' || setting === null || Array.isArray(setting)) {
    throw invalid(`${where} must be a URL string or an object such as { url: 'postgres://…', role: 'replica' }.`);
  }
  checkKeys(where, setting, DB_KEYS);
  const o = setting as DatabaseObject;
  const p: Parsed = typeof o.url === 'string' ? parseUrl(`${where}.url`, o.url)
    : { engine: undefined, host: undefined, port: undefined, user: undefined, password: undefined, database: undefined, ssl: undefined };
  if (o.url !== undefined && typeof o.url !== 'string') throw invalid(`${where}.url must be a string; ${URL_HELP}.`);
  if (o.host !== undefined && (typeof o.host !== 'string' || o.host === '')) throw invalid(`${where}.host must be a non-empty string such as "db1.internal".`);
  checkText(`${where}.user`, o.user, '"app"');
  if (o.password !== undefined && typeof o.password !== 'string') throw invalid(`${where}.password must be a string (such as process.env.DB_PASSWORD).`);
  checkText(`${where}.database`, o.database, '"shop"');
  checkSsl(`${where}.ssl`, o.ssl);
  if (o.driverOptions !== undefined) checkObject(`${where}.driverOptions`, o.driverOptions, '{ statement_timeout: 5000 }');
  if (o.port !== undefined && !(Number.isInteger(o.port) && o.port > 0 && o.port < 65536)) throw invalid(`${where}.port must be a whole number from 1 to 65535.`);
  let role: Role | undefined;
  if (o.role !== undefined) {
    const r = o.role as string;
    if (r !== 'primary' && r !== 'replica') {
      const word = ROLE_WORDS[String(r).toLowerCase()];
      throw invalid(`${where}.role must be 'primary' or 'replica'${word ? `; write role: '${word}'` : ' (or leave it out to ask the server)'}.`);
    }
    role = r;
  }
  if (o.weight !== undefined && !(typeof o.weight === 'number' && Number.isFinite(o.weight) && o.weight > 0)) {
    throw invalid(`${where}.weight must be a positive number such as 1 or 2.5 (a share of reads for the 'weighted' strategy).`);
  }
  if (o.pool !== undefined) checkPool(`${where}.pool`, o.pool);
  return {
    engine: p.engine,
    host: o.host ?? p.host,
    port: o.port ?? p.port,
    user: o.user ?? p.user,
    password: o.password ?? p.password,
    database: o.database ?? p.database,
    ssl: o.ssl ?? p.ssl,
    alias,
    role,
    weight: o.weight ?? 1,
    pool: o.pool ?? {},
    driverOptions: o.driverOptions ?? {},
    scheme: typeof o.url === 'string' ? new URL(o.url).protocol.slice(0, -1) : undefined,
  };
}

/** `scheme://user:***@host:port/database`: a node's address without its password. */
export function safeUrl(scheme: string, c: { host: string; port: number; user?: string | undefined; database?: string | undefined; hasPassword: boolean }): string {
  const auth = c.user === undefined ? '' : `${encodeURIComponent(c.user)}${c.hasPassword ? ':***' : ''}@`;
  const host = c.host.includes(':') ? `[${c.host}]` : c.host;
  return `${scheme}://${auth}${host}:${c.port}/${c.database === undefined ? '' : encodeURIComponent(c.database)}`;
}

function connectionOf(d: Draft, host: string, port: number): ConnectionOptions {
  const c: ConnectionOptions = { host, port, user: d.user, database: d.database, ssl: d.ssl, pool: Object.freeze({ ...d.pool }), driverOptions: Object.freeze({ ...d.driverOptions }) };
  if (d.password !== undefined) Object.defineProperty(c, 'password', { value: d.password, enumerable: false });
  return Object.freeze(c);
}

const ROUTER_METHODS = ['dbForRead', 'dbForWrite', 'allowRelation', 'allowMigrate'] as const;

function checkRouters(routers: unknown): void {
  if (routers === undefined) return;
  if (!Array.isArray(routers)) throw invalid(`routers must be an array of router objects, such as [primaryReplica()], not ${shown(routers)}.`);
  routers.forEach((r: unknown, i) => {
    const where = `routers[${i}]`;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      throw invalid(`${where} is ${shown(r)}; each router is an object with dbForRead/dbForWrite/allowRelation/allowMigrate methods, such as primaryReplica() or byTable({ audit_: 'logs' }) (a factory must be called).`);
    }
    const methods = ROUTER_METHODS.filter((m) => (r as Record<string, unknown>)[m] !== undefined);
    for (const m of methods) checkFunction(`${where}.${m}`, (r as Record<string, unknown>)[m], '(ctx) => undefined');
    if (methods.length === 0) throw invalid(`${where} has none of the router methods ${ROUTER_METHODS.join(', ')}; it would never answer. Give it dbForRead(ctx) or dbForWrite(ctx), or drop it.`);
    const name = (r as { name?: unknown }).name;
    if (name !== undefined && typeof name !== 'string') throw invalid(`${where}.name must be a string, not ${shown(name)}.`);
  });
}

function checkDebug(debug: unknown): void {
  if (debug === undefined || typeof debug === 'boolean') return;
  checkObject('debug', debug, 'true or { maxEntries: 1000 }');
  checkKeys('debug', debug, ['maxEntries']);
  checkWhole('debug.maxEntries', debug.maxEntries, 0, Number.MAX_SAFE_INTEGER, 1000);
}

function checkWriteFunctions(list: unknown): void {
  if (list === undefined) return;
  if (!Array.isArray(list)) {
    throw invalid(`writeFunctions must be an array of function names, such as ['audit_log'] or ['public.audit_log'], not ${shown(list)}${typeof list === 'string' ? `; write writeFunctions: [${JSON.stringify(list)}]` : ''}.`);
  }
  list.forEach((f: unknown, i) => {
    if (typeof f !== 'string' || !/^[\p{L}_][\p{L}\p{N}_$]*(\.[\p{L}_][\p{L}\p{N}_$]*)?$/u.test(f.trim())) {
      throw invalid(`writeFunctions[${i}] must be a function name such as "audit_log" or "public.audit_log", not ${shown(f)}.`);
    }
  });
}

/**
 * Validates a configuration and resolves each alias to one node. Every error is `CONFIG_INVALID`,
 * names the key, says what to write instead, and never repeats a password.
 */
export function resolveConfig(config: ClusterConfig): ResolvedConfig {
  if (typeof config !== 'object' || config === null) throw invalid('createCluster() takes an object such as { databases: { default: "postgres://…" } }.');
  checkKeys('the cluster configuration', config, TOP_KEYS);
  const dbs = config.databases as unknown;
  if (typeof dbs !== 'object' || dbs === null || Array.isArray(dbs) || Object.keys(dbs).length === 0) {
    throw invalid('databases must name at least one database, such as { databases: { default: "postgres://user:password@host:5432/db" } }.');
  }
  if (config.routers !== undefined && !Array.isArray(config.routers)) throw invalid('routers must be an array of router objects, such as [primaryReplica()].');
  if (config.onConnect !== undefined && !(Array.isArray(config.onConnect) && config.onConnect.every((s) => typeof s === 'string' && s.trim() !== ''))) {
    throw invalid('onConnect must be an array of SQL statements, such as ["SET time_zone = \'+00:00\'"].');
  }
  if (config.health !== undefined && typeof config.health !== 'boolean' && (typeof config.health !== 'object' || config.health === null || Array.isArray(config.health))) {
    throw invalid('health must be true, false or an object such as { checkIntervalMillis: 1000, failoverTimeoutMillis: 10000 }.');
  }
  if (config.sqlComment !== undefined && typeof config.sqlComment !== 'boolean' && typeof config.sqlComment !== 'function') {
    throw invalid("sqlComment must be true, false or a function such as (s) => ({ dbrouter_alias: s.alias, route: '/orders' }).");
  }
  checkRouters(config.routers);
  checkDebug(config.debug);
  checkWriteFunctions(config.writeFunctions);
  checkWhole('classifierCacheSize', config.classifierCacheSize, 0, Number.MAX_SAFE_INTEGER, 1000);
  checkFunction('discoverRole', config.discoverRole, "async (alias, connection) => 'replica'");
  if (config.engine !== undefined && config.engine !== 'postgres' && config.engine !== 'mysql') {
    throw invalid(`engine must be 'postgres' or 'mysql'${String(config.engine).startsWith('maria') ? " (MariaDB is 'mysql')" : ''}.`);
  }
  const drafts = Object.entries(dbs as Record<string, unknown>).map(([alias, s]) => parseSetting(alias, s));

  let engine: Engine | undefined = config.engine !== undefined ? engineByName(config.engine) : undefined;
  let engineFrom = config.engine !== undefined ? 'engine' : '';
  for (const d of drafts) {
    if (d.engine === undefined) continue;
    if (engine === undefined) [engine, engineFrom] = [d.engine, `databases.${d.alias}`];
    else if (engine !== d.engine) {
      throw invalid(`databases.${d.alias} is a ${d.engine.name} database but ${engineFrom} is ${engine.name}; one cluster is one engine: create one cluster per engine.`);
    }
  }
  if (engine === undefined) throw invalid("No database gives a URL, so the engine is unknown; add engine: 'postgres' or engine: 'mysql', or give a url.");

  const explicitPrimaries = drafts.filter((d) => d.role === 'primary');
  if (drafts.every((d) => d.role === 'replica')) {
    throw invalid('databases has no primary: every alias says role: \'replica\'. Mark the writable one role: \'primary\' (or leave its role out to ask the server).');
  }
  const base = explicitPrimaries[0] ?? drafts.find((d) => d.alias === 'default');
  const seen = new Map<string, string>();
  const nodes: ResolvedNode[] = [];
  for (const d of drafts) {
    if (base !== undefined && d !== base && d.role !== 'primary') {
      d.host ??= base.host;
      d.port ??= base.port;
      d.user ??= base.user;
      d.password ??= base.password;
      d.database ??= base.database;
      d.ssl ??= base.ssl;
      if (Object.keys(d.pool).length === 0) d.pool = base.pool;
      if (Object.keys(d.driverOptions).length === 0) d.driverOptions = base.driverOptions;
    }
    if (d.host === undefined) throw invalid(`databases.${d.alias} names no host; give url: '${engine.name}://user:password@host:${engine.defaultPort}/database' or host: '…'.`);
    const port = d.port ?? engine.defaultPort;
    const key = `${d.host.toLowerCase()}:${port}/${d.database ?? ''}`;
    const other = seen.get(key);
    const settings = (dbs as Record<string, unknown>)[d.alias];
    const sameServerAllowed = typeof settings === 'object' && settings !== null && (settings as { [SAME_SERVER]?: unknown })[SAME_SERVER] === true;
    if (other !== undefined && !sameServerAllowed) {
      throw invalid(`databases.${d.alias} and databases.${other} are the same node (${d.host}:${port}/${d.database ?? ''}); give each alias its own server, or drop one.`);
    }
    seen.set(key, d.alias);
    const scheme = d.scheme ?? (engine.name === 'postgres' ? 'postgres' : 'mysql');
    nodes.push(Object.freeze({
      alias: d.alias,
      role: d.role,
      weight: d.weight,
      connection: connectionOf(d, d.host, port),
      safeUrl: safeUrl(scheme, { host: d.host, port, user: d.user, database: d.database, hasPassword: d.password !== undefined }),
    }));
  }
  return { engine, nodes };
}
