/**
 * `dbrouter/session-store`: a session store for express-session, @fastify/session and koa-session
 * whose every statement runs on the primary (see {@link createSessionStore}).
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { checkSessionStoreOptions } from './options.js';
import type { Cluster } from '../cluster/cluster.js';
import { CONSISTENCY } from '../routing/contracts.js';
import { createMysqlPool, type RoutedMysqlPool } from '../engines/mysql/routed-pool.js';
import { createPgPool, type RoutedPgPool } from '../engines/postgres/routed-pool.js';
import { DbRouterError } from '../errors.js';

/** A session as express-session and @fastify/session hand it over: JSON-safe, maybe with a cookie. */
export interface SessionData {
  /** The session cookie's settings; the store reads them for the session's expiry. */
  cookie?: {
    /** When the cookie expires: the session then expires with it. */
    expires?: Date | string | null;
    /** Milliseconds the cookie has left, used when `expires` is absent (else the store's `ttlMillis`). */
    maxAge?: number | null;
    /** As express-session's `cookie.originalMaxAge`; stored, not read by the store. */
    originalMaxAge?: number | null;
  };
  [key: string]: unknown;
}

/** The Node-style callback of the store's methods: `err` set on failure (a database error), else the value. */
export type SessionStoreCallback<T = void> = (err: unknown, value?: T) => void;

/**
 * Options of {@link createSessionStore}.
 *
 * @example
 *   createSessionStore({ cluster, Store: session.Store, table: 'sessions' })
 */
export interface SessionStoreOptions {
  /** The cluster holding the sessions table: the store opens its own routed pool on it, and reads and writes on the primary. */
  readonly cluster: Cluster;
  /** express-session's `Store` class (`session.Store`): express-session needs its methods. Leave out for @fastify/session. */
  readonly Store?: abstract new () => EventEmitter;
  /** Table name (created if missing). Default `dbrouter_sessions`. */
  readonly table?: string;
  /** Lifetime of a session without a cookie expiry. Default one day. */
  readonly ttlMillis?: number;
}

/** The express-session / @fastify/session store interface, plus a promise form for koa-session. */
export interface SessionStore extends EventEmitter {
  /** The session `sid`, read on the primary; `null` when there is none or it expired. Waits for this process's writes of `sid` still in flight. */
  get(sid: string, callback: SessionStoreCallback<SessionData | null>): void;
  /** Saves `session` on the primary, expiring at its cookie's `expires` (else now + `maxAge`, else + `ttlMillis`). */
  set(sid: string, session: SessionData, callback?: SessionStoreCallback): void;
  /** Deletes the session `sid`. */
  destroy(sid: string, callback?: SessionStoreCallback): void;
  /** Moves the session's expiry forward (as `set` computes it) without rewriting its data. */
  touch(sid: string, session: SessionData, callback?: SessionStoreCallback): void;
  /** koa-session's external store: `session({ store: store.koa() }, app)`. */
  koa(): {
    /** The session stored under `key`, `undefined` when none or expired. */
    get(key: string): Promise<SessionData | undefined>;
    /** Saves `sess`, expiring after `maxAge` milliseconds (`'session'` or none: `ttlMillis`). */
    set(key: string, sess: SessionData, maxAge: number | 'session' | undefined): Promise<void>;
    /** Deletes the session stored under `key`. */
    destroy(key: string): Promise<void>;
  };
  /** Ends the pool the store opened; the cluster stays open. */
  close(): Promise<void>;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

interface Sql {
  create: string;
  get: string;
  set: string;
  destroy: string;
  touch: string;
  run(sql: string, values: readonly unknown[]): Promise<Record<string, unknown>[]>;
  end(): Promise<void>;
}

function pgSql(cluster: Cluster, t: string): Sql {
  const pool: RoutedPgPool = createPgPool(cluster);
  return {
    create: `CREATE TABLE IF NOT EXISTS ${t} (sid varchar(255) PRIMARY KEY, sess text NOT NULL, expires_at bigint NOT NULL)`,
    get: `SELECT sess FROM ${t} WHERE sid = $1 AND expires_at > $2`,
    set: `INSERT INTO ${t} (sid, sess, expires_at) VALUES ($1, $2, $3) ON CONFLICT (sid) DO UPDATE SET sess = EXCLUDED.sess, expires_at = EXCLUDED.expires_at`,
    destroy: `DELETE FROM ${t} WHERE sid = $1`,
    touch: `UPDATE ${t} SET expires_at = $2 WHERE sid = $1`,
    run: async (sql, values) => (await pool.query(sql, [...values])).rows,
    end: () => pool.end(),
  };
}

function mysqlSql(cluster: Cluster, t: string): Sql {
  const pool: RoutedMysqlPool = createMysqlPool(cluster);
  return {
    create: `CREATE TABLE IF NOT EXISTS ${t} (sid varchar(255) PRIMARY KEY, sess mediumtext NOT NULL, expires_at bigint NOT NULL)`,
    get: `SELECT sess FROM ${t} WHERE sid = ? AND expires_at > ?`,
    set: `INSERT INTO ${t} (sid, sess, expires_at) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE sess = VALUES(sess), expires_at = VALUES(expires_at)`,
    destroy: `DELETE FROM ${t} WHERE sid = ?`,
    touch: `UPDATE ${t} SET expires_at = ? WHERE sid = ?`,
    run: async (sql, values) => (await pool.query(sql, [...values]))[0] as Record<string, unknown>[],
    end: () => pool.end(),
  };
}

/**
 * A session store for express-session (also @fastify/session, and koa-session through `koa()`)
 * that keeps sessions in a table on the primary, created if missing. Every statement, reads
 * included, runs on the primary, so a session saved by one request is there for the next one
 * however far the replicas lag (the seed's `mysql_replicated.sessions`). Its own writes do not
 * count as the user's writes: they make no read-your-writes token and cost no position capture.
 *
 * @example
 *   import session from 'express-session';
 *   import { createSessionStore } from 'dbrouter/session-store';
 *   app.use(session({ secret, resave: false, saveUninitialized: false, store: createSessionStore({ cluster, Store: session.Store }) }));
 */
export function createSessionStore<S extends EventEmitter = EventEmitter>(options: SessionStoreOptions & { readonly Store?: abstract new () => S }): SessionStore & S {
  checkSessionStoreOptions(options);
  const { cluster } = options;
  const table = options.table ?? 'dbrouter_sessions';
  if (!IDENTIFIER.test(table)) throw new DbRouterError('CONFIG_INVALID', `createSessionStore: table "${table}" is not a plain identifier; use letters, digits and _.`);
  const ttl = options.ttlMillis ?? 86_400_000;
  const sql = cluster.engine === 'postgres' ? pgSql(cluster, table) : mysqlSql(cluster, table);
  const Base: abstract new () => EventEmitter = options.Store ?? EventEmitter;
  let created: Promise<void> | undefined;
  // A unit of work of its own, on the primary: the user's context neither sees these writes as its
  // own nor waits for replicas on them.
  const onPrimary = <R>(fn: () => Promise<R>): Promise<R> => cluster[CONSISTENCY].runFrom(undefined, () => cluster.primary(fn));
  const ready = (): Promise<void> => {
    created ??= onPrimary(() => sql.run(sql.create, [])).then(() => undefined, (e: unknown) => {
      created = undefined;
      throw e;
    });
    return created;
  };
  const expiry = (s: SessionData): number => {
    const e = s.cookie?.expires;
    if (e !== undefined && e !== null) {
      const t = new Date(e).getTime();
      if (Number.isFinite(t)) return t;
    }
    const maxAge = s.cookie?.maxAge;
    return Date.now() + (typeof maxAge === 'number' ? maxAge : ttl);
  };
  const call = <T>(p: Promise<T>, cb: SessionStoreCallback<T> | undefined): void => {
    p.then((v) => cb?.(null, v), (e: unknown) => cb?.(e));
  };
  // express-session saves a session while it sends the response (it writes all but the last byte,
  // saves, then ends), so a client that follows a redirect on the headers can ask for the session
  // before its save has run. Writes of one sid run in order, and a read waits for the writes of its
  // sid still in flight in this process: the next request finds the session, lag or not.
  const pending = new Map<string, Promise<void>>();
  const write = (sid: string, op: () => Promise<void>): Promise<void> => {
    const before = pending.get(sid);
    const p = before === undefined ? op() : before.then(op);
    const settled = p.then(() => undefined, () => undefined);
    pending.set(sid, settled);
    void settled.then(() => {
      if (pending.get(sid) === settled) pending.delete(sid);
    });
    return p;
  };
  const get = async (sid: string): Promise<SessionData | null> => {
    await pending.get(sid);
    await ready();
    const rows = await onPrimary(() => sql.run(sql.get, [sid, Date.now()]));
    const text = rows[0]?.sess;
    return typeof text === 'string' ? (JSON.parse(text) as SessionData) : null;
  };
  const set = (sid: string, s: SessionData, expiresAt = expiry(s)): Promise<void> => {
    const text = JSON.stringify(s);
    return write(sid, async () => {
      await ready();
      await onPrimary(() => sql.run(sql.set, [sid, text, expiresAt]));
    });
  };
  const destroy = (sid: string): Promise<void> => write(sid, async () => {
    await ready();
    await onPrimary(() => sql.run(sql.destroy, [sid]));
  });
  const touch = (sid: string, s: SessionData): Promise<void> => {
    const values = cluster.engine === 'postgres' ? [sid, expiry(s)] : [expiry(s), sid];
    return write(sid, async () => {
      await ready();
      await onPrimary(() => sql.run(sql.touch, values));
    });
  };

  class DbRouterSessionStore extends Base implements SessionStore {
    get(sid: string, callback: SessionStoreCallback<SessionData | null>): void {
      call(get(sid), callback);
    }
    set(sid: string, session: SessionData, callback?: SessionStoreCallback): void {
      call(set(sid, session), callback);
    }
    destroy(sid: string, callback?: SessionStoreCallback): void {
      call(destroy(sid), callback);
    }
    touch(sid: string, session: SessionData, callback?: SessionStoreCallback): void {
      call(touch(sid, session), callback);
    }
    koa(): ReturnType<SessionStore['koa']> {
      return {
        get: async (key) => (await get(key)) ?? undefined,
        set: (key, sess, maxAge) => set(key, sess, Date.now() + (typeof maxAge === 'number' ? maxAge : ttl)),
        destroy: (key) => destroy(key),
      };
    }
    close(): Promise<void> {
      return sql.end();
    }
  }
  // The store class extends the `Store` passed in, so the instance is one.
  return new DbRouterSessionStore() as SessionStore & S;
}
