/**
 * `dbrouter/drizzle`: a Drizzle database typed read-only (Drizzle has no read-only type of its
 * own). On a {@link ReadonlyDrizzle} the builders that write (`insert`, `update`, `delete`,
 * `refreshMaterializedView`) do not exist, `with(…)` offers only the selects, and a transaction's
 * callback gets a read-only transaction. Structural, for any Drizzle database (`drizzle-orm/node-postgres`,
 * `drizzle-orm/mysql2`, …): nothing of Drizzle is imported, at run time or in the types.
 *
 * The types cover Drizzle's builders. Raw SQL (`db.execute(sql\`…\`)`), `.for('update')` on a
 * select and functions that write are not visible to them: over a read-only pool
 * (`createPgPool(cluster, { readOnly: true })`) those are refused at run time with `READ_ONLY`.
 *
 * @example
 *   import { drizzle } from 'drizzle-orm/node-postgres';
 *   import { readOnlyDrizzle } from 'dbrouter/drizzle';
 *   const reports = readOnlyDrizzle(drizzle(createPgPool(cluster, { readOnly: true })));
 *   await reports.select().from(orders);
 *   reports.delete(orders);   // type error: Property 'delete' does not exist
 *
 * @module
 */

/** The members of a Drizzle database (or transaction) that only read. */
export type ReadMember = 'select' | 'selectDistinct' | 'selectDistinctOn' | '$count' | '$with' | 'query' | 'execute' | 'rollback' | 'setTransaction' | '_';

/** Drizzle's `db.with(…)`, returning only its selects. */
export type WithSelects<W> = W extends (...args: infer A) => infer R ? (...args: A) => Pick<R, Extract<keyof R, 'select' | 'selectDistinct' | 'selectDistinctOn'>> : never;

/** The transaction a Drizzle database's `transaction(callback)` hands its callback. */
export type TransactionOf<D> = D[Extract<keyof D, 'transaction'>] extends (callback: (tx: infer Tx, ...rest: never[]) => Promise<unknown>, ...rest: never[]) => unknown ? Tx : never;

/** The config a Drizzle database's `transaction(callback, config)` takes (isolation level, access mode). */
export type TransactionConfigOf<D> = D[Extract<keyof D, 'transaction'>] extends (callback: never, config?: infer C) => unknown ? C : never;

/**
 * A Drizzle database `D` with only its read members: `select`, `selectDistinct`,
 * `selectDistinctOn`, `$count`, `$with`, `with` (its selects), `query` (the relational API),
 * `execute` (raw SQL, checked by a read-only pool at run time) and `transaction`.
 */
export type ReadonlyDrizzle<D> = Pick<D, Extract<keyof D, ReadMember>> &
  ('with' extends keyof D ? {
    /** Drizzle's `with(…)` (common table expressions), offering only the selects after it. */
    with: WithSelects<D['with']>;
  } : unknown) &
  ('transaction' extends keyof D
    ? {
      /** A transaction whose callback gets a read-only transaction; `{ accessMode: 'read only' }` lets it run on a replica. */
      transaction<T>(callback: (tx: ReadonlyDrizzle<TransactionOf<D>>) => Promise<T>, config?: TransactionConfigOf<D>): Promise<T>;
    }
    : unknown);

/**
 * `db` typed as a {@link ReadonlyDrizzle}: the same object, with no write builders in its type.
 * Build it over a read-only pool so that what the types cannot see is refused at run time too.
 *
 * @example
 *   const reports = readOnlyDrizzle(drizzle(createMysqlPool(cluster, { readOnly: true })));
 */
export function readOnlyDrizzle<D extends object>(db: D): ReadonlyDrizzle<D> {
  // A cast: the read-only type is computed from D's members, which TypeScript cannot relate to D itself.
  return db as ReadonlyDrizzle<D>;
}
