import { DbRouterError } from '../errors.js';
import type { Classification } from '../sql/types.js';

/*
 * Read-only: one rule for a read-only scope (`cluster.readOnly()`) and a read-only pool
 * (`createPgPool(cluster, { readOnly: true })`). An allow-list of classifier reasons: what the
 * classifier cannot vouch for (an unknown verb, several statements in one text, EXECUTE of a
 * prepared statement) is refused, and so is any reason added to the classifier later until it is
 * listed here.
 */

/** Reasons that change nothing: reads, transaction control, cursors, session settings. */
const ALLOWED: ReadonlySet<string> = new Set([
  'select',
  'show',
  'explain',
  // MySQL/MariaDB EXPLAIN of a write: never executes (a read_only server refuses it, hence the primary).
  'explain-write',
  'transaction-read-only',
  'transaction-begin',
  'transaction-end',
  'transaction-chain',
  'savepoint',
  'cursor',
  'session-state',
  'session-function',
  'primary-status',
  // `SELECT … INTO @var` (a session effect); INTO a table or a file is refused below.
  'select-into',
]);

/**
 * Whether a read-only scope or pool refuses `c`: it changes data or schema (DML, DDL, a writing
 * CTE, `SELECT … INTO` a table, CALL, DO, NOTIFY, COPY, VACUUM), writes through a function
 * (`nextval`, `setval`, `txid_current`, your `writeFunctions`), takes a lock that makes writers
 * wait (`FOR UPDATE`/`FOR SHARE`, `LOCK TABLE`, advisory locks), creates or drops a temporary
 * table, executes EXPLAIN ANALYZE of a write, or is a text the classifier cannot vouch for
 * (`unknown`, `multi-statement`, `execute`).
 *
 * @example
 *   readOnlyRefuses(classify('SELECT 1', 'postgres'));                  // false
 *   readOnlyRefuses(classify('SELECT * FROM t FOR UPDATE', 'postgres')); // true
 */
export function readOnlyRefuses(c: Classification): boolean {
  if (!ALLOWED.has(c.reason)) return true;
  if (c.reason === 'session-state') return c.verb === 'CREATE' || c.verb === 'DROP';
  if (c.reason === 'select-into') return c.effect !== 'session';
  return false;
}

/** The error for a statement refused in a read-only scope or on a read-only pool; it never reached a server. */
export function readOnlyRefusal(c: Classification): DbRouterError {
  return new DbRouterError(
    'READ_ONLY',
    `A ${c.verb === '' ? 'statement' : c.verb} statement (reason '${c.reason}') was refused before it reached any server: ` +
      'a read-only scope (cluster.readOnly()) or a read-only pool runs only statements that change nothing and lock nothing ' +
      '(reads, transactions, savepoints, cursors, session settings), one statement per text. Run it outside the scope, or on a pool made without readOnly.',
  );
}

/** Throws `READ_ONLY` for a statement a read-only scope or pool refuses. */
export function checkReadOnly(c: Classification): Classification {
  if (readOnlyRefuses(c)) throw readOnlyRefusal(c);
  return c;
}
