// Type test (compiled by `npm run typecheck` and by test/integration/read-only-types.test.ts):
// on the read-only Kysely and Drizzle handles every read compiles and every write builder is a
// type error. Each `@ts-expect-error` line fails the compile if it ever type-checks.
// The lines expected to fail are calls of members that do not exist, hence the unsafe-* rules off.
/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/require-await */
import { Kysely, PostgresDialect, MysqlDialect, sql, type Generated } from 'kysely';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzleMysql } from 'drizzle-orm/mysql2';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { int, mysqlTable, varchar } from 'drizzle-orm/mysql-core';
import { createCluster } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import { readOnlyKysely, type ReadonlyKysely } from '../../src/orm/kysely.js';
import { readOnlyDrizzle } from '../../src/orm/drizzle.js';

interface DB {
  orders: { id: Generated<number>; total: number; customer: string };
  customers: { name: string };
}

export async function kyselyReads(db: ReadonlyKysely<DB>): Promise<void> {
  const rows: { id: number; total: number }[] = await db.selectFrom('orders').select(['id', 'total']).where('total', '>', 10).execute();
  void rows;
  await db.selectNoFrom((eb) => eb.val(1).as('one')).execute();
  await db.selectFrom('orders').select((eb) => eb.fn.count<number>('id').as('n')).executeTakeFirst();
  await db.selectFrom('orders').select(db.fn.max('total').as('m')).execute();
  // A read-only CTE; its columns are typed.
  const big = await db.with('big', (qc) => qc.selectFrom('orders').select(['id', 'customer']).where('total', '>', 100)).selectFrom('big').select('big.customer').execute();
  const name: string = big[0]!.customer;
  void name;
  await db.withRecursive('t(n)', (qc) => qc.selectNoFrom((eb) => eb.val(1).as('n'))).selectFrom('t').selectAll().execute();
  await db.transaction().setAccessMode('read only').execute((trx) => trx.selectFrom('orders').selectAll().execute());
  await db.connection().execute((c) => c.selectFrom('customers').selectAll().execute());
  await db.withSchema('app').selectFrom('orders').selectAll().execute();
  await sql`SELECT 1`.execute(db);
  await db.introspection.getTables();
  await db.destroy();
}

export function kyselyWrites(db: ReadonlyKysely<DB>): void {
  // @ts-expect-error no insertInto on a read-only Kysely
  void db.insertInto('orders');
  // @ts-expect-error no replaceInto
  void db.replaceInto('orders');
  // @ts-expect-error no updateTable
  void db.updateTable('orders');
  // @ts-expect-error no deleteFrom
  void db.deleteFrom('orders');
  // @ts-expect-error no mergeInto
  void db.mergeInto('orders');
  // @ts-expect-error no schema (DDL)
  void db.schema;
  // @ts-expect-error no executeQuery (it runs any compiled query)
  void db.executeQuery;
  // @ts-expect-error no startTransaction (its savepoint API hands back a writable transaction)
  void db.startTransaction;
  // @ts-expect-error a writing CTE does not compile
  void db.with('d', (qc) => qc.deleteFrom('orders').returning('id'));
  // @ts-expect-error nor does a write after a CTE
  void db.with('c', (qc) => qc.selectFrom('customers').selectAll()).insertInto('orders');
  // @ts-expect-error a transaction hands out a read-only transaction
  void db.transaction().execute(async (trx) => trx.updateTable('orders'));
  // @ts-expect-error a connection too
  void db.connection().execute(async (c) => c.deleteFrom('orders'));
  // @ts-expect-error withSchema / withPlugin keep it read-only
  void db.withSchema('app').insertInto('orders');
  // @ts-expect-error withTables too
  void db.withTables<{ extra: { a: number } }>().deleteFrom('extra');
}

export function kyselyOverPools(): void {
  const pgCluster = createCluster({ databases: { default: 'postgres://app@primary/app', replica1: 'postgres://app@replica/app' } });
  const pgDb = readOnlyKysely(new Kysely<DB>({ dialect: new PostgresDialect({ pool: createPgPool(pgCluster, { readOnly: true }) }) }));
  // @ts-expect-error no insertInto
  void pgDb.insertInto('orders');
  const myCluster = createCluster({ databases: { default: 'mysql://app@primary/app', replica1: 'mysql://app@replica/app' } });
  const myDb: ReadonlyKysely<DB> = readOnlyKysely(new Kysely<DB>({ dialect: new MysqlDialect({ pool: createMysqlPool(myCluster, { readOnly: true }) }) }));
  // @ts-expect-error no updateTable
  void myDb.updateTable('orders');
}

const pgOrders = pgTable('orders', { id: integer('id').primaryKey(), total: integer('total').notNull(), customer: text('customer').notNull() });
const myOrders = mysqlTable('orders', { id: int('id').primaryKey(), total: int('total').notNull(), customer: varchar('customer', { length: 100 }).notNull() });

export async function drizzleHandles(): Promise<void> {
  const pgCluster = createCluster({ databases: { default: 'postgres://app@primary/app', replica1: 'postgres://app@replica/app' } });
  const pgDb = readOnlyDrizzle(drizzlePg(createPgPool(pgCluster, { readOnly: true })));
  const rows: { id: number; total: number; customer: string }[] = await pgDb.select().from(pgOrders);
  void rows;
  await pgDb.selectDistinct({ c: pgOrders.customer }).from(pgOrders);
  await pgDb.$count(pgOrders);
  const big = pgDb.$with('big').as((qb) => qb.select().from(pgOrders));
  await pgDb.with(big).select().from(big);
  await pgDb.transaction(async (tx) => tx.select().from(pgOrders), { accessMode: 'read only' });
  // @ts-expect-error no insert on a read-only Drizzle
  void pgDb.insert(pgOrders);
  // @ts-expect-error no update
  void pgDb.update(pgOrders);
  // @ts-expect-error no delete
  void pgDb.delete(pgOrders);
  // @ts-expect-error no refreshMaterializedView
  void pgDb.refreshMaterializedView;
  // @ts-expect-error with(…) offers only its selects
  void pgDb.with(big).delete(pgOrders);
  // @ts-expect-error a transaction hands out a read-only transaction
  void pgDb.transaction(async (tx) => tx.insert(pgOrders).values({ id: 1, total: 1, customer: 'a' }));

  const myCluster = createCluster({ databases: { default: 'mysql://app@primary/app', replica1: 'mysql://app@replica/app' } });
  const myDb = readOnlyDrizzle(drizzleMysql(createMysqlPool(myCluster, { readOnly: true }).asMysqlPool()));
  await myDb.select().from(myOrders);
  // @ts-expect-error no insert on a read-only Drizzle
  void myDb.insert(myOrders);
  // @ts-expect-error no update on a read-only Drizzle
  void myDb.update(myOrders);
  // @ts-expect-error no delete on a read-only Drizzle
  void myDb.delete(myOrders);
  // @ts-expect-error a transaction hands out a read-only transaction
  void myDb.transaction(async (tx) => tx.delete(myOrders));
}
