/**
 * SQL classification: where a statement may run, read from its text alone, for PostgreSQL and
 * MySQL/MariaDB. Anything that is not surely a read goes to the primary.
 *
 * | reason                  | target  | effect          | when |
 * |-------------------------|---------|-----------------|------|
 * | `select`                | replica | none            | SELECT, VALUES, TABLE, read-only WITH |
 * | `show`                  | replica | none            | SHOW (except the ones below) |
 * | `explain`               | replica | none            | EXPLAIN / DESCRIBE without ANALYZE (never executes; on MySQL only of a read), or EXPLAIN ANALYZE of a read |
 * | `transaction-read-only` | replica | begin           | BEGIN / START TRANSACTION ... READ ONLY (`readOnly: true`) |
 * | `write`                 | primary | none (CALL, DO: session) | INSERT, UPDATE, DELETE, MERGE, REPLACE, COPY, TRUNCATE, VACUUM, ANALYZE, NOTIFY, CALL, DO, ... |
 * | `ddl`                   | primary | none            | CREATE, ALTER, DROP, RENAME, COMMENT, GRANT, REVOKE, ... |
 * | `write-cte`             | primary | none            | WITH whose CTE or main statement writes |
 * | `select-into`           | primary | none / session  | SELECT ... INTO table, INTO OUTFILE; `INTO @var` is a session effect |
 * | `row-lock`              | primary | none            | FOR UPDATE / SHARE / NO KEY UPDATE / KEY SHARE, LOCK IN SHARE MODE |
 * | `write-function`        | primary | none            | nextval, setval, NEXT VALUE FOR, pg_notify, txid_current, large objects, user `writeFunctions` |
 * | `lock-function`         | primary | session (xact locks: none) | pg_advisory_*, pg_try_advisory_*, GET_LOCK, RELEASE_LOCK, IS_USED_LOCK, ... |
 * | `session-function`      | primary | none (set_config: session) | currval, lastval, LAST_INSERT_ID, FOUND_ROWS, ROW_COUNT, PREVIOUS VALUE FOR, @@identity, SHOW WARNINGS/ERRORS/PROFILE |
 * | `session-state`         | primary | session         | SET, RESET, DISCARD, LISTEN, UNLISTEN, PREPARE, DEALLOCATE, USE, DECLARE, UNLOCK, HANDLER, CREATE/DROP TEMP..., `SELECT @a := ...`, SQL_CALC_FOUND_ROWS, XA END/PREPARE |
 * | `table-lock`            | primary | session         | LOCK TABLE(S), LOCK INSTANCE |
 * | `transaction-begin`     | primary | begin           | BEGIN, START TRANSACTION, XA START; also READ ONLY + SERIALIZABLE on PostgreSQL (a standby refuses it) |
 * | `transaction-end`       | primary | end             | COMMIT, ROLLBACK, END, ABORT, PREPARE TRANSACTION, XA COMMIT/ROLLBACK |
 * | `transaction-chain`     | primary | begin           | COMMIT / ROLLBACK AND CHAIN (ends one transaction, opens the next) |
 * | `savepoint`             | primary | none            | SAVEPOINT, RELEASE, ROLLBACK TO SAVEPOINT |
 * | `explain-analyze`       | primary | of the statement | EXPLAIN ANALYZE of anything that is not a read (it executes) |
 * | `explain-write`         | primary | none            | MySQL/MariaDB: EXPLAIN of a write (a read_only server refuses it) |
 * | `execute`               | primary | none            | EXECUTE of a prepared statement |
 * | `cursor`                | primary | none            | FETCH, MOVE, CLOSE |
 * | `primary-status`        | primary | none            | MySQL SHOW MASTER STATUS, SHOW BINARY LOGS, SHOW BINLOG EVENTS |
 * | `multi-statement`       | primary | session if any part has an effect | two or more statements in one text (a trailing `;` is fine) |
 * | `unknown`               | primary | none            | empty, comment-only, unknown verb, unterminated string or comment |
 *
 * Decisions where SQL leaves room:
 * - EXPLAIN without ANALYZE never executes, and a PostgreSQL standby plans even DML: replica. A
 *   read_only MySQL/MariaDB server refuses to explain a write, so there it is `explain-write` on
 *   the primary. EXPLAIN ANALYZE executes: a read stays on a replica, anything else is
 *   `explain-analyze` on the primary with the inner statement's effect. (Checked against real
 *   servers in test/integration/sql-classify-servers.test.ts.)
 * - Every SET (also `SET LOCAL`, `SET TRANSACTION`, MySQL `SET autocommit`) is `session-state`: in a
 *   transaction the client is bound anyway, and outside one MySQL's `SET TRANSACTION` applies to
 *   the next transaction of the same connection.
 * - `BEGIN ... READ ONLY` may start on a replica, except SERIALIZABLE on PostgreSQL, which a
 *   standby refuses. `COMMIT AND CHAIN` ends one transaction and begins the next: effect `begin`.
 * - CALL and DO can set, lock or commit inside: effect `session`. Transaction-level advisory
 *   locks end with the transaction (effect `none`); session-level ones pin (`session`).
 * - currval, lastval, LAST_INSERT_ID, FOUND_ROWS read state of the connection that wrote, which
 *   is on the primary: primary, effect `none`.
 * - `'a\'...'` ends elsewhere under MySQL's NO_BACKSLASH_ESCAPES or PostgreSQL's
 *   `standard_conforming_strings = off`. When the default reading (backslash escapes on MySQL, off
 *   on PostgreSQL outside `E''`) is a read, the other reading is tried too; the text is a read only
 *   if both readings are (a reading that leaves a string open is a syntax error there and runs
 *   nothing). MySQL executable comments `/*!NNNNN ... *\/` are code whatever their version number.
 * - Several statements in one text are `multi-statement` on the primary, effect `session` if any
 *   part has an effect. A trailing `;` and empty statements do not count.
 * - `writeFunctions`: a bare name (`audit`) matches `audit(` in any schema; a qualified one
 *   (`app.audit`) only `app.audit(`. Functions are matched as a name followed by `(`.
 * - `tables` is best effort: names after FROM, JOIN, INTO, UPDATE, TABLE, USING, TRUNCATE, COPY,
 *   LOCK; CTE names and table functions left out; unquoted names lower-cased, quoted ones as written.
 *
 * @example
 *   import { classify, createClassifier } from 'dbrouter/sql';
 *   classify('SELECT * FROM users', 'postgres');            // { target: 'replica', reason: 'select', ... }
 *   classify('SELECT nextval($1)', 'postgres').reason;      // 'write-function'
 *   const c = createClassifier({ dialect: 'mysql', writeFunctions: ['audit_log'] });
 *   c.classify('SELECT audit_log(?)').target;               // 'primary'
 *
 * @module
 */
import { DbRouterError } from '../errors.js';
import { DecisionCache } from './cache.js';
import { classifyWith, NO_FUNCTIONS, type CompiledFunctions } from './classify.js';
import type { DialectSpec } from './dialect.js';
import { MYSQL } from './mysql.js';
import { POSTGRES } from './postgres.js';
import type { Classification, ClassifyOptions, Dialect } from './types.js';

export type { Classification, ClassifyOptions, Dialect, SessionEffect, TargetRole } from './types.js';

const compiled = new WeakMap<readonly string[], CompiledFunctions>();

function spec(dialect: Dialect): DialectSpec {
  if (dialect === 'postgres') return POSTGRES;
  if (dialect === 'mysql') return MYSQL;
  throw new DbRouterError(
    'CONFIG_INVALID',
    `Unknown SQL dialect ${JSON.stringify(dialect)}: use 'postgres' (PostgreSQL) or 'mysql' (MySQL and MariaDB).`,
  );
}

function compileFunctions(list: readonly string[] | undefined): CompiledFunctions {
  if (list === undefined || list.length === 0) return NO_FUNCTIONS;
  let c = compiled.get(list);
  if (c === undefined) {
    const names = new Set<string>();
    for (const name of list) {
      if (typeof name !== 'string' || name.trim() === '') {
        throw new DbRouterError('CONFIG_INVALID', 'writeFunctions must be a list of function names such as "audit_log" or "public.audit_log".');
      }
      names.add(name.trim().toLowerCase());
    }
    c = { names };
    compiled.set(list, c);
  }
  return c;
}

/**
 * Classifies one statement text: pure, no cache (see `createClassifier` for one).
 *
 * @example
 *   classify('WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', 'postgres').reason; // 'write-cte'
 *   classify('SELECT 1 /*! FOR UPDATE *\/', 'mysql').reason;                               // 'row-lock'
 */
export function classify(sql: string, dialect: Dialect, options?: ClassifyOptions): Classification {
  return classifyWith(sql, spec(dialect), compileFunctions(options?.writeFunctions));
}

/** Options of {@link createClassifier}; bad numbers or an unknown dialect throw `CONFIG_INVALID`. */
export interface ClassifierOptions extends ClassifyOptions {
  /** `postgres` (PostgreSQL) or `mysql` (MySQL and MariaDB). */
  readonly dialect: Dialect;
  /** Decisions kept for repeated statement texts; 0 turns the cache off. Default 1000. */
  readonly cacheSize?: number;
  /** Longer texts are classified every time and not kept. Default 4096 characters. */
  readonly maxCachedLength?: number;
}

/** A statement classifier for one dialect, with a bounded cache: what {@link createClassifier} returns. */
export interface Classifier {
  /** The dialect it reads SQL as. */
  readonly dialect: Dialect;
  /** The decision for `sql`; cached results are frozen and shared. */
  classify(sql: string): Classification;
}

/**
 * A classifier for one dialect that remembers decisions for repeated statement texts, in bounded
 * memory (at most `cacheSize` texts of at most `maxCachedLength` characters each).
 *
 * @example
 *   const classifier = createClassifier({ dialect: 'postgres', writeFunctions: ['public.bump'] });
 *   classifier.classify('SELECT public.bump($1)').reason; // 'write-function'
 */
export function createClassifier(options: ClassifierOptions): Classifier {
  const dialect = options.dialect;
  const s = spec(dialect);
  const fns = compileFunctions(options.writeFunctions ? [...options.writeFunctions] : undefined);
  const cacheSize = options.cacheSize ?? 1000;
  const maxLength = options.maxCachedLength ?? 4096;
  if (!Number.isInteger(cacheSize) || cacheSize < 0) {
    throw new DbRouterError('CONFIG_INVALID', `cacheSize must be a whole number ≥ 0 (0 turns the cache off), not ${String(cacheSize)}.`);
  }
  if (!Number.isInteger(maxLength) || maxLength < 0) {
    throw new DbRouterError('CONFIG_INVALID', `maxCachedLength must be a whole number of characters ≥ 0, not ${String(maxLength)}.`);
  }
  if (cacheSize === 0) {
    return { dialect, classify: function classifyUncached(sql: string) { return classifyWith(sql, s, fns); } };
  }
  const cache = new DecisionCache<Classification>(cacheSize);
  return {
    dialect,
    classify: function classifyCached(sql: string): Classification {
      if (sql.length > maxLength) return classifyWith(sql, s, fns);
      const hit = cache.get(sql);
      if (hit !== undefined) return hit;
      const c = classifyWith(sql, s, fns);
      Object.freeze(c.tables);
      return cache.set(sql, Object.freeze(c));
    },
  };
}
