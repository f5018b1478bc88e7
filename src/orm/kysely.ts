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
import type { AccessMode, DrainOuterGeneric, Expression, IsolationLevel, Kysely, KyselyPlugin, QueryCreator } from 'kysely';

/** `'person'` of a CTE name `'person(id, first_name)'`. */
type CteTable<N extends string> = N extends `${infer T}(${string})` ? T : N;

/** The columns of a CTE name with a column list, as Kysely types them (`any` each). */
type CteColumns<N extends string> = N extends `${string}(${infer L})` ? { [C in ColumnList<L>]: unknown } : Record<string, unknown>;
type ColumnList<L extends string> = L extends `${infer C}, ${infer R}` ? C | ColumnList<R> : L;

/** The row type of a read-only CTE: what its query selects. */
type CteRow<E> = E extends (creator: never) => Expression<infer O> ? O : never;

/** A CTE's query, built from a read-only query creator: a select (or any read-only expression). */
export type ReadonlyCommonTableExpression<DB> = (creator: ReadonlyQueryCreator<DB>) => Expression<unknown>;

/**
 * Kysely's `QueryCreator` without the builders that write: `selectFrom`, `selectNoFrom`, `with`
 * and `withRecursive` (of read-only CTEs), `withSchema`, `withPlugin`, `withoutPlugins`.
 */
export interface ReadonlyQueryCreator<DB> extends Pick<QueryCreator<DB>, 'selectFrom' | 'selectNoFrom'> {
  /** Kysely's `with`, of a CTE built from a read-only query creator (a writing CTE does not compile). Takes the CTE's name, not a CTE builder callback. */
  with<N extends string, E extends ReadonlyCommonTableExpression<DB>>(name: N, expression: E): ReadonlyQueryCreator<DrainOuterGeneric<DB & { [K in CteTable<N>]: CteRow<E> }>>;
  /** Kysely's `withRecursive`, read-only as {@link ReadonlyQueryCreator.with}; name the columns (`'tree(id, parent_id)'`). */
  withRecursive<N extends string, E extends (creator: ReadonlyQueryCreator<DrainOuterGeneric<DB & { [K in CteTable<N>]: CteColumns<N> }>>) => Expression<unknown>>(
    name: N,
    expression: E,
  ): ReadonlyQueryCreator<DrainOuterGeneric<DB & { [K in CteTable<N>]: CteRow<E> }>>;
  withSchema(schema: string): ReadonlyQueryCreator<DB>;
  withPlugin(plugin: KyselyPlugin): ReadonlyQueryCreator<DB>;
  withoutPlugins(): ReadonlyQueryCreator<DB>;
}

/**
 * A `Kysely<DB>` with only its read methods (Kysely's own has no read-only type): what
 * {@link readOnlyKysely} returns. Besides {@link ReadonlyQueryCreator}: `fn`, `case`, `dynamic`,
 * `introspection`, `getExecutor` (so `sql\`…\`.execute(db)` runs, checked by a read-only pool at
 * run time), `transaction()`, `connection()`, `withTables`, `destroy`. Left out: `insertInto`,
 * `replaceInto`, `updateTable`, `deleteFrom`, `mergeInto`, `schema`, `executeQuery` (it runs any
 * compiled query) and `startTransaction` (its savepoint API hands back a writable transaction).
 */
export interface ReadonlyKysely<DB>
  extends ReadonlyQueryCreator<DB>, Pick<Kysely<DB>, 'fn' | 'case' | 'dynamic' | 'introspection' | 'getExecutor' | 'isTransaction' | 'destroy' | typeof Symbol.asyncDispose> {
  /** A transaction whose callback gets a read-only transaction. `setAccessMode('read only')` lets it run on a replica. */
  transaction(): ReadonlyTransactionBuilder<DB>;
  /** One connection for several queries, handed out read-only. */
  connection(): { execute<T>(callback: (db: ReadonlyKysely<DB>) => Promise<T>): Promise<T> };
  withSchema(schema: string): ReadonlyKysely<DB>;
  withPlugin(plugin: KyselyPlugin): ReadonlyKysely<DB>;
  withoutPlugins(): ReadonlyKysely<DB>;
  withTables<T extends Record<string, Record<string, unknown>>>(): ReadonlyKysely<DrainOuterGeneric<DB & T>>;
}

/** Kysely's `TransactionBuilder`, whose callback gets a {@link ReadonlyTransaction}. */
export interface ReadonlyTransactionBuilder<DB> {
  setAccessMode(accessMode: AccessMode): ReadonlyTransactionBuilder<DB>;
  setIsolationLevel(isolationLevel: IsolationLevel): ReadonlyTransactionBuilder<DB>;
  execute<T>(callback: (trx: ReadonlyTransaction<DB>) => Promise<T>): Promise<T>;
}

/** A read-only Kysely transaction. */
export interface ReadonlyTransaction<DB> extends ReadonlyKysely<DB> {
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
