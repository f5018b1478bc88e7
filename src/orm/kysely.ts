/**
 * `dbrouter/kysely`: a Kysely typed read-only. Kysely has no read-only type of its own; this is
 * one. On a {@link ReadonlyKysely} the builders that write (`insertInto`, `replaceInto`,
 * `updateTable`, `deleteFrom`, `mergeInto`, `schema`) do not exist, a CTE is built from a
 * read-only query creator (so a writing CTE does not compile), and transactions and connections
 * hand out read-only handles too. Types only: nothing of Kysely is imported at run time.
 *
 * The types cover Kysely's builders. Raw SQL (`sql\`…\`.execute(db)`), `FOR UPDATE` on a select
 * and functions that write are not visible to them: over a read-only pool
 * (`createPgPool(cluster, { readOnly: true })`) those are refused at run time with `READ_ONLY`.
 *
 * @example
 *   import { Kysely, PostgresDialect } from 'kysely';
 *   import { createPgPool } from 'dbrouter/pg';
 *   import { readOnlyKysely } from 'dbrouter/kysely';
 *   const reports = readOnlyKysely(new Kysely<DB>({ dialect: new PostgresDialect({ pool: createPgPool(cluster, { readOnly: true }) }) }));
 *   await reports.selectFrom('orders').selectAll().execute();
 *   reports.deleteFrom('orders');   // type error: Property 'deleteFrom' does not exist
 *
 * @module
 */
import type {
  AccessMode, CallbackSelection, CaseBuilder, DrainOuterGeneric, Expression, IsolationLevel, Kysely, KyselyPlugin, QueryCreator, SelectCallback, SelectExpression, Selection,
  SelectQueryBuilder,
} from 'kysely';

/** The table name of a CTE name: `'person'` of `'person(id, first_name)'`. */
export type CteTable<N extends string> = N extends `${infer T}(${string})` ? T : N;

/** The columns of a CTE name with a column list (`'tree(id, parent_id)'`), as a row of unknowns. */
export type CteColumns<N extends string> = N extends `${string}(${infer L})` ? { [C in CteColumnList<L>]: unknown } : Record<string, unknown>;

/** The column names of a CTE's column list: `'id' | 'parent_id'` of `'id, parent_id'`. */
export type CteColumnList<L extends string> = L extends `${infer C}, ${infer R}` ? C | CteColumnList<R> : L;

/** The row type of a read-only CTE: what its query selects. */
export type CteRow<E> = E extends (creator: never) => Expression<infer O> ? O : never;

/** A CTE's query, built from a read-only query creator: a select (or any read-only expression). */
export type ReadonlyCommonTableExpression<DB> = (creator: ReadonlyQueryCreator<DB>) => Expression<unknown>;

/**
 * Kysely's `QueryCreator` without the builders that write: `selectFrom`, `selectNoFrom`, `with`
 * and `withRecursive` (of read-only CTEs), `withSchema`, `withPlugin`, `withoutPlugins`.
 */
export interface ReadonlyQueryCreator<DB> {
  /** Kysely's `selectFrom`: a select query. */
  readonly selectFrom: QueryCreator<DB>['selectFrom'];
  /** Kysely's `selectNoFrom`: a select with no `FROM` (`SELECT 1`), of a list of selections. */
  selectNoFrom<SE extends SelectExpression<DB, never>>(selections: readonly SE[]): SelectQueryBuilder<DB, never, Selection<DB, never, SE>>;
  /** Kysely's `selectNoFrom`, of a callback that returns the selections. */
  selectNoFrom<CB extends SelectCallback<DB, never>>(callback: CB): SelectQueryBuilder<DB, never, CallbackSelection<DB, never, CB>>;
  /** Kysely's `selectNoFrom`, of one selection. */
  selectNoFrom<SE extends SelectExpression<DB, never>>(selection: SE): SelectQueryBuilder<DB, never, Selection<DB, never, SE>>;
  /**
   * Kysely's `with`, of a CTE built from a read-only query creator (a writing CTE does not
   * compile). Takes the CTE's name, not a CTE builder callback.
   *
   * @typeParam N - the CTE's name, with an optional column list (`'big(id, total)'`)
   * @typeParam E - the CTE's query
   */
  with<N extends string, E extends ReadonlyCommonTableExpression<DB>>(name: N, expression: E): ReadonlyQueryCreator<DrainOuterGeneric<DB & { [K in CteTable<N>]: CteRow<E> }>>;
  /**
   * Kysely's `withRecursive`, read-only as {@link ReadonlyQueryCreator.with}; name the columns
   * (`'tree(id, parent_id)'`).
   *
   * @typeParam N - the CTE's name and column list
   * @typeParam E - the CTE's query, which may select from the CTE itself
   */
  withRecursive<N extends string, E extends (creator: ReadonlyQueryCreator<DrainOuterGeneric<DB & { [K in CteTable<N>]: CteColumns<N> }>>) => Expression<unknown>>(
    name: N,
    expression: E,
  ): ReadonlyQueryCreator<DrainOuterGeneric<DB & { [K in CteTable<N>]: CteRow<E> }>>;
  /** Kysely's `withSchema`, still read-only. */
  withSchema(schema: string): ReadonlyQueryCreator<DB>;
  /** Kysely's `withPlugin`, still read-only. */
  withPlugin(plugin: KyselyPlugin): ReadonlyQueryCreator<DB>;
  /** Kysely's `withoutPlugins`, still read-only. */
  withoutPlugins(): ReadonlyQueryCreator<DB>;
}

/** One connection for several queries (Kysely's `connection()`), handed out read-only. */
export interface ReadonlyConnectionBuilder<DB> {
  /** Runs `callback` with a read-only handle on one connection. */
  execute<T>(callback: (db: ReadonlyKysely<DB>) => Promise<T>): Promise<T>;
}

/**
 * A `Kysely<DB>` with only its read methods (Kysely's own has no read-only type): what
 * {@link readOnlyKysely} returns. Besides {@link ReadonlyQueryCreator}: `fn`, `case`, `dynamic`,
 * `introspection`, `getExecutor` (so `sql\`…\`.execute(db)` runs, checked by a read-only pool at
 * run time), `transaction()`, `connection()`, `withTables`, `destroy`. Left out: `insertInto`,
 * `replaceInto`, `updateTable`, `deleteFrom`, `mergeInto`, `schema`, `executeQuery` (it runs any
 * compiled query) and `startTransaction` (its savepoint API hands back a writable transaction).
 */
export interface ReadonlyKysely<DB> extends ReadonlyQueryCreator<DB> {
  /** Kysely's `fn`: function calls in selects (`count`, `max`, …). */
  readonly fn: Kysely<DB>['fn'];
  /** Kysely's `case`: a searched `CASE WHEN … THEN … END` expression. */
  case(): CaseBuilder<DB, keyof DB>;
  /** Kysely's `case`: a simple `CASE value WHEN … THEN … END` expression. */
  case<V>(value: Expression<V>): CaseBuilder<DB, keyof DB, V>;
  /** Kysely's `dynamic`: references and tables named at run time. */
  readonly dynamic: Kysely<DB>['dynamic'];
  /** Kysely's `introspection`: the tables, schemas and columns of the database. */
  readonly introspection: Kysely<DB>['introspection'];
  /** Kysely's `getExecutor`: what `sql\`…\`.execute(db)` runs on (a read-only pool checks what it runs). */
  readonly getExecutor: Kysely<DB>['getExecutor'];
  /** True inside a transaction. */
  readonly isTransaction: boolean;
  /** Kysely's `destroy`: ends the pool. */
  readonly destroy: Kysely<DB>['destroy'];
  /** Kysely's `Symbol.asyncDispose` (`await using db = …`). */
  readonly [Symbol.asyncDispose]: Kysely<DB>[typeof Symbol.asyncDispose];
  /** A transaction whose callback gets a read-only transaction. `setAccessMode('read only')` lets it run on a replica. */
  transaction(): ReadonlyTransactionBuilder<DB>;
  /** One connection for several queries, handed out read-only. */
  connection(): ReadonlyConnectionBuilder<DB>;
  /** Kysely's `withSchema`, still read-only. */
  withSchema(schema: string): ReadonlyKysely<DB>;
  /** Kysely's `withPlugin`, still read-only. */
  withPlugin(plugin: KyselyPlugin): ReadonlyKysely<DB>;
  /** Kysely's `withoutPlugins`, still read-only. */
  withoutPlugins(): ReadonlyKysely<DB>;
  /** Kysely's `withTables`: tables the `DB` type does not know, still read-only. */
  withTables<T extends Record<string, Record<string, unknown>>>(): ReadonlyKysely<DrainOuterGeneric<DB & T>>;
}

/** Kysely's `TransactionBuilder`, whose callback gets a {@link ReadonlyTransaction}. */
export interface ReadonlyTransactionBuilder<DB> {
  /** `'read only'` starts it with `BEGIN READ ONLY` (or `START TRANSACTION READ ONLY`): it may run on a replica. */
  setAccessMode(accessMode: AccessMode): ReadonlyTransactionBuilder<DB>;
  /** The transaction's isolation level (a PostgreSQL standby refuses `serializable`). */
  setIsolationLevel(isolationLevel: IsolationLevel): ReadonlyTransactionBuilder<DB>;
  /** Runs `callback` in the transaction: committed when it resolves, rolled back when it rejects. */
  execute<T>(callback: (trx: ReadonlyTransaction<DB>) => Promise<T>): Promise<T>;
}

/** A read-only Kysely transaction. */
export interface ReadonlyTransaction<DB> extends ReadonlyKysely<DB> {
  /** Always true. */
  readonly isTransaction: true;
}

/**
 * `db` typed as a {@link ReadonlyKysely}: the same object, with no write builders in its type.
 * Build it over a read-only pool so that what the types cannot see is refused at run time too.
 *
 * @example
 *   const reports = readOnlyKysely(new Kysely<DB>({ dialect: new MysqlDialect({ pool: createMysqlPool(cluster, { readOnly: true }) }) }));
 */
export function readOnlyKysely<DB>(db: Kysely<DB>): ReadonlyKysely<DB> {
  // A cast: a transaction callback that takes the read-only handle does not accept Kysely's writable one (parameters are contravariant).
  return db as unknown as ReadonlyKysely<DB>;
}
