/** The SQL dialect a statement is read in. One cluster is one engine, so one dialect. */
export type Dialect = 'postgres' | 'mysql';

/** Where a statement must run: `primary`, or `replica` when it is surely a read. */
export type TargetRole = 'primary' | 'replica';

/**
 * What a statement does to the connection it runs on, beyond reading or writing rows.
 * - `begin`: opens a transaction (`readOnly` says whether it was declared READ ONLY)
 * - `end`: COMMIT / ROLLBACK (ends a transaction; ROLLBACK TO SAVEPOINT is not an end)
 * - `session`: changes session state that later statements depend on (SET, temp tables, LISTEN,
 *   advisory locks, named prepared statements, USE, ...): the connection must stay where it is
 * - `none`: nothing beyond the statement itself
 */
export type SessionEffect = 'begin' | 'end' | 'session' | 'none';

/** The decision for one statement text. Immutable: it may be cached and shared. */
export interface Classification {
  /** `replica` only when the statement is surely a read; anything else `primary`. */
  readonly target: TargetRole;
  /** A short, stable machine-readable reason, such as `select`, `write-cte`, `row-lock`, `multi-statement` (all listed in `src/sql/index.ts`). */
  readonly reason: string;
  /** The statement's leading verb, upper-case (`SELECT`, `INSERT`, `WITH`, ...), or `''` when there is none. */
  readonly verb: string;
  /** What running it does to the session: `none`, `session` (state that binds a client), `begin` or `end` of a transaction. */
  readonly effect: SessionEffect;
  /** For `begin`: declared `READ ONLY`. */
  readonly readOnly: boolean;
  /**
   * Tables the statement names, where the lexer can see them; may be empty. Unquoted names are
   * lower-cased, quoted ones keep their case; schema-qualified names stay `schema.table`.
   */
  readonly tables: readonly string[];
}

/** Options of `classify()`: what the text alone cannot tell. */
export interface ClassifyOptions {
  /**
   * Extra functions that write (pgpool's `write_function_list`), case-insensitive: a call to one
   * sends the statement to the primary with reason `write-function`. A bare name matches in any
   * schema, a qualified one (`app.audit`) only there.
   */
  readonly writeFunctions?: readonly string[];
}
