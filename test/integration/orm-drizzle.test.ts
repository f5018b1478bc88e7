// Drizzle over dbrouter's routed pools, unchanged (`drizzle(pool)`): selects go to replicas,
// inserts/updates and transactions to the primary. Asserted by the server's own port, by the
// cluster's statement log, and by what a read saw with replay paused.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzleMysql, type MySql2Database } from 'drizzle-orm/mysql2';
import { pgTable, serial, text } from 'drizzle-orm/pg-core';
import { int, mysqlTable, varchar } from 'drizzle-orm/mysql-core';
import { createCluster, type Cluster } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';

const pgItems = pgTable('rt_dz_items', { id: serial('id').primaryKey(), v: text('v') });
const myItems = mysqlTable('rt_dz_items', { id: int('id').primaryKey().autoincrement(), v: varchar('v', { length: 100 }) });

function setup(local: LocalCluster, maxPerNode?: number): { cluster: Cluster; portOf: Map<number, string> } {
  const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role, ...(maxPerNode === undefined ? {} : { pool: { max: maxPerNode } }) }]));
  const portOf = new Map(Object.entries(local.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));
  // Routing alone: read-your-writes (the consistency layer, tested on its own) is off here.
  return { cluster: createCluster({ databases, debug: true, consistency: 'eventual' }), portOf };
}

/**
 * The safety net re-runs a write a replica refused on the primary: a misroute would pass every
 * "ran on the primary" assertion, so none may happen.
 */
function noMisroutes(cluster: Cluster): void {
  assert.equal(cluster.stats().misroutes, 0, JSON.stringify(cluster.queries.filter((q) => q.misroute).map((q) => q.sql)));
}

async function paused<T>(local: LocalCluster, fn: () => Promise<T>): Promise<T> {
  await local.pause('replica1');
  await local.pause('replica2');
  try {
    return await fn();
  } finally {
    await local.resume('replica1');
    await local.resume('replica2');
    await local.waitForAllReplicas();
  }
}

describe('Drizzle (node-postgres) over the routed pg pool', { skip: await engineSkip('postgres') }, () => {
  let local: LocalCluster;
  let cluster: Cluster;
  let portOf: Map<number, string>;
  let db: ReturnType<typeof drizzlePg>;
  const pool = () => createPgPool(cluster);
  let routed: ReturnType<typeof pool>;

  before(async () => {
    local = await sharedCluster('postgres');
    ({ cluster, portOf } = setup(local));
    routed = pool();
    db = drizzlePg(routed.asPgPool());
    await db.execute(sql`DROP TABLE IF EXISTS rt_dz_items`);
    await db.execute(sql`CREATE TABLE rt_dz_items (id serial PRIMARY KEY, v text)`);
    await local.waitForAllReplicas();
    assert.equal(cluster.stats().misroutes, 0, 'the schema statements were routed to the primary, not saved by the safety net');
  });
  after(async () => {
    await routed?.end();
  });
  beforeEach(() => cluster.resetStats());
  afterEach(() => noMisroutes(cluster));

  test('selects on replicas; inserts, updates and transactions on the primary', async () => {
    cluster.resetStats();
    const [r] = await db.select({ port: sql<number>`inet_server_port()` }).from(sql`(SELECT 1) AS one`);
    assert.match(portOf.get(Number(r!.port))!, /^replica/);
    const [ins] = await db.insert(pgItems).values({ v: 'dz' }).returning({ id: pgItems.id, port: sql<number>`inet_server_port()` });
    assert.equal(portOf.get(Number(ins!.port)), 'default');
    await db.update(pgItems).set({ v: 'dz2' }).where(eq(pgItems.id, ins!.id));
    assert.deepEqual(cluster.queries.map((q) => q.role), ['replica', 'primary', 'primary']);
    cluster.resetStats();
    const inTx = await db.transaction(async (tx) => {
      await tx.insert(pgItems).values({ v: 'dztx' });
      return tx.select({ port: sql<number>`inet_server_port()`, n: sql<number>`count(*)` }).from(pgItems).where(eq(pgItems.v, 'dztx'));
    });
    assert.equal(portOf.get(Number(inTx[0]!.port)), 'default');
    assert.equal(Number(inTx[0]!.n), 1);
    assert.ok(cluster.queries.every((q) => q.alias === 'default'));
  });

  test('with replay paused: replicas do not see a new row, the primary scope does', async () => {
    await paused(local, async () => {
      const marker = `dzp-${Date.now()}`;
      await db.insert(pgItems).values({ v: marker });
      assert.equal((await db.select().from(pgItems).where(eq(pgItems.v, marker))).length, 0);
      assert.equal((await cluster.primary(() => db.select().from(pgItems).where(eq(pgItems.v, marker)))).length, 1);
    });
  });
});

describe('Drizzle (mysql2) over the routed mysql2 pool', { skip: await engineSkip('mariadb') }, () => {
  let local: LocalCluster;
  let cluster: Cluster;
  let portOf: Map<number, string>;
  let db: MySql2Database;
  const pool = () => createMysqlPool(cluster);
  let routed: ReturnType<typeof pool>;

  before(async () => {
    local = await sharedCluster('mariadb');
    ({ cluster, portOf } = setup(local, 1));
    routed = pool();
    // Issue 10: the routed pool is a mysql2/promise Pool to the type checker, no asMysqlPool().
    db = drizzleMysql(routed);
    await db.execute(sql`DROP TABLE IF EXISTS rt_dz_items`);
    await db.execute(sql`CREATE TABLE rt_dz_items (id int AUTO_INCREMENT PRIMARY KEY, v varchar(100))`);
    await local.waitForAllReplicas();
    assert.equal(cluster.stats().misroutes, 0, 'the schema statements were routed to the primary, not saved by the safety net');
  });
  after(async () => {
    await routed?.end();
  });
  beforeEach(() => cluster.resetStats());
  afterEach(() => noMisroutes(cluster));

  test('selects on replicas; inserts, updates and transactions on the primary', async () => {
    cluster.resetStats();
    const [r] = await db.select({ port: sql<number>`@@port` }).from(sql`(SELECT 1) AS one`);
    assert.match(portOf.get(Number(r!.port))!, /^replica/);
    const [ins] = await db.insert(myItems).values({ v: 'dz' });
    await db.update(myItems).set({ v: 'dz2' }).where(eq(myItems.id, ins.insertId));
    assert.deepEqual(cluster.queries.map((q) => q.role), ['replica', 'primary', 'primary']);
    cluster.resetStats();
    const inTx = await db.transaction(async (tx) => {
      await tx.insert(myItems).values({ v: 'dztx' });
      return tx.select({ port: sql<number>`@@port`, n: sql<number>`count(*)` }).from(myItems).where(eq(myItems.v, 'dztx'));
    });
    assert.equal(portOf.get(Number(inTx[0]!.port)), 'default');
    assert.equal(Number(inTx[0]!.n), 1);
    assert.ok(cluster.queries.every((q) => q.alias === 'default'), JSON.stringify(cluster.queries.map((q) => [q.sql, q.alias])));
  });

  test('.iterator() streams on a replica; breaking out early gives the connection back', async () => {
    await db.insert(myItems).values(Array.from({ length: 20 }, (_, i) => ({ v: `it${i}` })));
    await local.waitForAllReplicas();
    for (let round = 0; round < 3; round++) {
      let n = 0;
      for await (const row of db.select({ port: sql<number>`@@port`, v: myItems.v }).from(myItems).iterator()) {
        assert.match(portOf.get(Number(row.port))!, /^replica/);
        if (++n === 2) break;
      }
      assert.equal(n, 2);
    }
    // The routed pool has one connection per node (see before()): a leaked one would block this.
    for (const alias of ['replica1', 'replica2']) {
      const rows = await Promise.race([
        cluster.using(alias, () => db.select({ port: sql<number>`@@port` }).from(sql`(SELECT 1) AS one`)),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${alias}: a connection leaked`)), 5000).unref()),
      ]);
      assert.equal(portOf.get(Number(rows[0]!.port)), alias);
    }
  });

  test('with replay paused: replicas do not see a new row, the primary scope does', async () => {
    await paused(local, async () => {
      const marker = `dzp-${Date.now()}`;
      await db.insert(myItems).values({ v: marker });
      assert.equal((await db.select().from(myItems).where(eq(myItems.v, marker))).length, 0);
      assert.equal((await cluster.primary(() => db.select().from(myItems).where(eq(myItems.v, marker)))).length, 1);
    });
  });
});

describe('Drizzle (mysql2) with read-your-writes: drizzle(createMysqlPool(cluster)), no cast', { skip: await engineSkip('mariadb') }, () => {
  let local: LocalCluster;
  let cluster: Cluster;
  let portOf: Map<number, string>;
  let routed: ReturnType<typeof createMysqlPool>;
  let db: MySql2Database;

  before(async () => {
    local = await sharedCluster('mariadb');
    portOf = new Map(Object.entries(local.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));
    // The default consistency: read-your-writes.
    cluster = createCluster({ databases: Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role }])), debug: true });
    routed = createMysqlPool(cluster);
    db = drizzleMysql(routed);
    await db.execute(sql`CREATE TABLE IF NOT EXISTS rt_dz_items (id int AUTO_INCREMENT PRIMARY KEY, v varchar(100))`);
    await local.waitForAllReplicas();
  });
  after(async () => {
    await routed?.end();
    await cluster?.end();
  });
  afterEach(() => noMisroutes(cluster));

  test('a write then a read with every replica paused: the read sees the row, on the primary; with nothing written, a plain read on a replica', async () => {
    await paused(local, async () => {
      const marker = `dzryw-${Date.now()}`;
      const [ins] = await db.insert(myItems).values({ v: marker });
      assert.ok(ins.insertId > 0);
      const seen = await db.select({ id: myItems.id, port: sql<number>`@@port` }).from(myItems).where(eq(myItems.v, marker));
      assert.equal(seen.length, 1, 'the read saw its own write');
      assert.equal(seen[0]!.id, ins.insertId);
      assert.equal(portOf.get(Number(seen[0]!.port)), 'default', 'no replica has replayed it: the primary answered');
    });
    // Replicas caught up (paused() waits for them): a plain read goes to one.
    cluster.resetStats();
    const [r] = await db.select({ port: sql<number>`@@port` }).from(sql`(SELECT 1) AS one`);
    assert.match(portOf.get(Number(r!.port))!, /^replica/);
    assert.deepEqual(cluster.queries.map((q) => q.role), ['replica']);
  });
});
