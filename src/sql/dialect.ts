/**
 * What a dialect tells the classifier: lexer rules, what each leading verb means, and which
 * functions write or depend on the session. Tables are `Uint8Array`s indexed by keyword id, so
 * the hot path reads one byte per word. `postgres.ts` and `mysql.ts` each build one.
 *
 * @example
 *   const spec = defineDialect({ mysql: false, verbs: { select: V.READ }, functions: { nextval: F.WRITE } });
 */
import { KEYWORD_COUNT, keywordId, type Keyword } from './keywords.js';

/** Verb classes: what the first word of a statement makes it. */
export const V = {
  UNKNOWN: 0,
  READ: 1, // SELECT, VALUES, TABLE
  WITH: 2,
  EXPLAIN: 3,
  SHOW: 4,
  WRITE: 5,
  DDL: 6,
  SESSION: 7,
  BEGIN: 8,
  START: 9,
  COMMIT: 10,
  ROLLBACK: 11,
  END: 12,
  SAVEPOINT: 13,
  PREPARE: 14,
  XA: 15,
  EXECUTE: 16,
  CURSOR: 17,
  LOCK: 18,
  CREATE: 19,
  DROP: 20,
  CALL: 21,
} as const;

/** Function kinds: what calling the function means for routing. */
export const F = {
  NONE: 0,
  /** Writes (nextval, pg_notify, ...): primary. */
  WRITE: 1,
  /** Reads this session's state (currval, LAST_INSERT_ID, ...): primary, no lasting effect. */
  SESSION_READ: 2,
  /** Changes this session's state (set_config): primary, effect `session`. */
  SESSION_SET: 3,
  /** Session-level lock (pg_advisory_lock, GET_LOCK): primary, effect `session`. */
  LOCK: 4,
  /** Transaction-level lock (pg_advisory_xact_lock): primary, released at transaction end. */
  LOCK_XACT: 5,
} as const;

export interface DialectSpec {
  readonly name: 'postgres' | 'mysql';
  /** MySQL lexer rules (`#`, `/*! *\/`, backslashes, backticks, `@vars`). */
  readonly mysql: boolean;
  /** Verb class by keyword id. */
  readonly verbs: Uint8Array;
  /** Function kind by keyword id. */
  readonly functions: Uint8Array;
}

export interface DialectDefinition {
  readonly name: 'postgres' | 'mysql';
  readonly mysql: boolean;
  readonly verbs: Partial<Record<Keyword, number>>;
  readonly functions: Partial<Record<Keyword, number>>;
}

/** Verbs both dialects share. */
export const COMMON_VERBS: Partial<Record<Keyword, number>> = {
  select: V.READ, values: V.READ, table: V.READ, with: V.WITH,
  explain: V.EXPLAIN, describe: V.EXPLAIN, desc: V.EXPLAIN, show: V.SHOW,
  insert: V.WRITE, update: V.WRITE, delete: V.WRITE, merge: V.WRITE, replace: V.WRITE,
  upsert: V.WRITE, copy: V.WRITE, truncate: V.WRITE, vacuum: V.WRITE, analyze: V.WRITE,
  analyse: V.WRITE, refresh: V.WRITE, cluster: V.WRITE, reindex: V.WRITE, checkpoint: V.WRITE,
  notify: V.WRITE, import: V.WRITE, optimize: V.WRITE, repair: V.WRITE, check: V.WRITE,
  checksum: V.WRITE, flush: V.WRITE, kill: V.WRITE, purge: V.WRITE, install: V.WRITE,
  uninstall: V.WRITE, change: V.WRITE, stop: V.WRITE, binlog: V.WRITE, cache: V.WRITE,
  shutdown: V.WRITE, restart: V.WRITE,
  create: V.CREATE, drop: V.DROP, alter: V.DDL, rename: V.DDL, comment: V.DDL, grant: V.DDL,
  revoke: V.DDL, security: V.DDL, reassign: V.DDL,
  set: V.SESSION, reset: V.SESSION, discard: V.SESSION, listen: V.SESSION, unlisten: V.SESSION,
  deallocate: V.SESSION, use: V.SESSION, declare: V.SESSION, unlock: V.SESSION,
  handler: V.SESSION,
  prepare: V.PREPARE, lock: V.LOCK, call: V.CALL, do: V.CALL,
  begin: V.BEGIN, start: V.START, commit: V.COMMIT, rollback: V.ROLLBACK, end: V.END,
  abort: V.END, savepoint: V.SAVEPOINT, release: V.SAVEPOINT, xa: V.XA, execute: V.EXECUTE,
  fetch: V.CURSOR, move: V.CURSOR, close: V.CURSOR,
};

/** Functions both dialects share (MariaDB has sequences with PostgreSQL's function names). */
export const COMMON_FUNCTIONS: Partial<Record<Keyword, number>> = {
  nextval: F.WRITE, setval: F.WRITE, lastval: F.SESSION_READ,
};

export function defineDialect(def: DialectDefinition): DialectSpec {
  const verbs = new Uint8Array(KEYWORD_COUNT);
  const functions = new Uint8Array(KEYWORD_COUNT);
  for (const [word, v] of Object.entries(def.verbs)) verbs[keywordId(word as Keyword)] = v;
  for (const [word, f] of Object.entries(def.functions)) functions[keywordId(word as Keyword)] = f;
  return { name: def.name, mysql: def.mysql, verbs, functions };
}
