// ORMs over dbrouter on real MariaDB replicas, each wired with one line (issue 10): Knex
// (`connectionPool`), TypeORM (`driver: mysqlDriver(cluster)`), Sequelize 6 (`dialectModule`).
// Each: a plain read lands on a replica (by @@port); a create then a read with every replica
// paused sees its row (read-your-writes, the default); the ORM's transaction API runs on the
// primary only; its schema sync on the primary; a stream, where the ORM has one, on a replica,
// stopped early without leaking a connection (one connection per node: a leak blocks the next
// statement there); destroy()/close() returns within a bound.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import knexFactory, { type Knex } from 'knex';
import { DataSource, EntitySchema } from 'typeorm';
import { DataTypes, Sequelize, type ModelStatic, type Model } from 'sequelize';
import { createCluster, type Cluster } from '../../src/index.js';
import { createMysqlPool, mysqlDriver } from '../../src/engines/mysql/index.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';

const skip = await engineSkip('mariadb');

async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

interface Ctx {
  local: LocalCluster;
  cluster: Cluster;
  portOf: Map<number, string>;
  database: string;
}

async function setup(): Promise<Ctx> {
  const local = await sharedCluster('mariadb');
  const portOf = new Map(Object.entries(local.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));
  const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role, pool: { max: 1 } }]));
  const cluster = createCluster({ databases, debug: true });
  await local.waitForAllReplicas();
  return { local, cluster, portOf, database: new URL(local.databases.default!.url).pathname.slice(1) };
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

function aliasOf(ctx: Ctx, port: unknown): string {
  return ctx.portOf.get(Number(port)) ?? `port ${String(port)}`;
}

function onlyPrimary(cluster: Cluster, what: string): void {
  assert.ok(cluster.queries.length > 0, what);
  assert.deepEqual([...new Set(cluster.queries.map((q) => q.alias))], ['default'], `${what}: ${JSON.stringify(cluster.queries.map((q) => [q.sql.slice(0, 60), q.alias]))}`);
}

/** Every node's only connection is free: one statement on each answers. */
async function noLeak(ctx: Ctx): Promise<void> {
  const pool = createMysqlPool(ctx.cluster);
  try {
    for (const alias of Object.keys(ctx.local.databases)) await within(5000, ctx.cluster.using(alias, () => pool.query('SELECT 1')), alias);
  } finally {
    await pool.end();
  }
}

describe('Knex (mysql2, connectionPool) over the routed pool', { skip }, () => {
  let ctx: Ctx;
  let db: Knex;
  before(async () => {
    ctx = await setup();
    db = knexFactory({ client: 'mysql2', connectionPool: createMysqlPool(ctx.cluster) });
  });
  after(async () => {
    await within(5000, db.destroy(), 'knex.destroy()');
    await ctx?.cluster.end();
  });

  test('schema on the primary; reads on replicas; create + read with replicas paused; transaction on the primary; stream stopped early', async () => {
    ctx.cluster.resetStats();
    await db.schema.dropTableIfExists('rt_knex_items');
    await db.schema.createTable('rt_knex_items', (t) => {
      t.increments('id');
      t.string('v', 100);
    });
    onlyPrimary(ctx.cluster, 'schema');
    await db('rt_knex_items').insert(Array.from({ length: 50 }, (_, i) => ({ v: `k${i}` })));
    await ctx.local.waitForAllReplicas();
    const [r] = await db.select<{ port: number }[]>(db.raw('@@port AS port'));
    assert.match(aliasOf(ctx, r!.port), /^replica/);
    await paused(ctx.local, async () => {
      const [id] = await db('rt_knex_items').insert({ v: 'knex-paused' });
      const row = (await db('rt_knex_items').where({ id }).first()) as { v: string } | undefined;
      assert.equal(row?.v, 'knex-paused');
    });
    ctx.cluster.resetStats();
    await db.transaction(async (trx) => {
      await trx('rt_knex_items').insert({ v: 'knex-tx' });
      const [p] = await trx.select<{ port: number }[]>(trx.raw('@@port AS port'));
      assert.equal(aliasOf(ctx, p!.port), 'default');
    });
    onlyPrimary(ctx.cluster, 'transaction');
    let n = 0;
    for await (const row of db.select(db.raw('@@port AS port'), 'v').from('rt_knex_items').stream({ highWaterMark: 1 })) {
      assert.match(aliasOf(ctx, (row as { port: number }).port), /^replica/);
      if (++n === 3) break;
    }
    await noLeak(ctx);
    assert.equal(ctx.cluster.stats().misroutes, 0);
  });
});

const Item = new EntitySchema<{ id: number; v: string }>({
  name: 'rt_typeorm_items',
  columns: { id: { type: Number, primary: true, generated: true }, v: { type: String, length: 100 } },
});

describe('TypeORM (mysql, driver: mysqlDriver(cluster))', { skip }, () => {
  let ctx: Ctx;
  let ds: DataSource;
  before(async () => {
    ctx = await setup();
    const primary = createMysqlPool(ctx.cluster);
    await primary.query('DROP TABLE IF EXISTS rt_typeorm_items');
    await primary.end();
    ctx.cluster.resetStats();
    ds = new DataSource({ type: 'mysql', driver: mysqlDriver(ctx.cluster), database: ctx.database, entities: [Item], synchronize: true });
    await ds.initialize();
  });
  after(async () => {
    if (ds?.isInitialized) await within(5000, ds.destroy(), 'dataSource.destroy()');
    await ctx?.cluster.end();
  });

  test('synchronize ran its DDL on the primary', () => {
    const ddl = ctx.cluster.queries.filter((q) => /^\s*(CREATE|ALTER|DROP)\b/i.test(q.sql));
    assert.ok(ddl.length > 0, 'synchronize created the table');
    assert.ok(ddl.every((q) => q.alias === 'default'), JSON.stringify(ddl.map((q) => q.alias)));
  });

  test('reads on replicas; create + read with replicas paused; transaction on the primary; stream stopped early', async () => {
    await ctx.local.waitForAllReplicas();
    const [r] = await ds.query<{ port: number }[]>('SELECT @@port AS port');
    assert.match(aliasOf(ctx, r!.port), /^replica/);
    const repo = ds.getRepository(Item);
    await paused(ctx.local, async () => {
      const saved = await repo.save({ v: 'typeorm-paused' });
      const found = await repo.findOneBy({ id: saved.id });
      assert.equal(found?.v, 'typeorm-paused');
    });
    await repo.save(Array.from({ length: 20 }, (_, i) => ({ v: `t${i}` })));
    await ctx.local.waitForAllReplicas();
    ctx.cluster.resetStats();
    await ds.transaction(async (m) => {
      await m.save(Item, { v: 'typeorm-tx' });
      const [p] = await m.query<{ port: number }[]>('SELECT @@port AS port');
      assert.equal(aliasOf(ctx, p!.port), 'default');
    });
    onlyPrimary(ctx.cluster, 'transaction');
    const stream = await ds.createQueryBuilder().select('@@port', 'port').addSelect('i.v', 'v').from('rt_typeorm_items', 'i').stream();
    let n = 0;
    for await (const row of stream) {
      assert.match(aliasOf(ctx, (row as { port: number }).port), /^replica/);
      if (++n === 3) break;
    }
    await noLeak(ctx);
    assert.equal(ctx.cluster.stats().misroutes, 0);
  });
});

describe('Sequelize 6 (mysql dialect, dialectModule: mysqlDriver(cluster))', { skip }, () => {
  let ctx: Ctx;
  let sequelize: Sequelize;
  let ItemModel: ModelStatic<Model<{ id: number; v: string }, { v: string }>>;
  before(async () => {
    ctx = await setup();
    sequelize = new Sequelize({ dialect: 'mysql', dialectModule: mysqlDriver(ctx.cluster), database: ctx.database, logging: false, pool: { max: 2 } });
    ItemModel = sequelize.define('rt_sequelize_items', { id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true }, v: DataTypes.STRING(100) }, { timestamps: true });
  });
  after(async () => {
    await within(5000, sequelize.close(), 'sequelize.close()');
    await ctx?.cluster.end();
  });

  test('sync on the primary; an INSERT that committed is not reported as an error; SET time_zone applies on replicas, which serve the reads', async () => {
    ctx.cluster.resetStats();
    await ItemModel.sync({ force: true });
    const ddl = ctx.cluster.queries.filter((q) => /^\s*(CREATE|ALTER|DROP)\b/i.test(q.sql));
    assert.ok(ddl.length > 0 && ddl.every((q) => q.alias === 'default'), JSON.stringify(ddl.map((q) => [q.sql.slice(0, 40), q.alias])));
    const created = await ItemModel.create({ v: 'seq-1' });
    assert.ok(created.get('id'));
    await ctx.local.waitForAllReplicas();
    const [rows] = (await sequelize.query('SELECT @@port AS port, @@session.time_zone AS tz')) as [{ port: number; tz: string }[], unknown];
    assert.match(aliasOf(ctx, rows[0]!.port), /^replica/, 'the SET time_zone on connect did not pin the connection to the primary');
    assert.equal(rows[0]!.tz, '+00:00', "Sequelize's time zone is in force on the replica");
    assert.equal(ctx.cluster.stats().misroutes, 0);
  });

  test('create + read with replicas paused; the transaction API on the primary', async () => {
    await paused(ctx.local, async () => {
      const created = await ItemModel.create({ v: 'seq-paused' });
      const found = await ItemModel.findByPk(created.get('id') as number);
      assert.equal(found?.get('v'), 'seq-paused');
      assert.ok(found?.get('createdAt') instanceof Date, 'dates come back as Date (typeCast applied)');
    });
    ctx.cluster.resetStats();
    await sequelize.transaction(async (transaction) => {
      await ItemModel.create({ v: 'seq-tx' }, { transaction });
      const [rows] = (await sequelize.query('SELECT @@port AS port', { transaction })) as [{ port: number }[], unknown];
      assert.equal(aliasOf(ctx, rows[0]!.port), 'default');
    });
    onlyPrimary(ctx.cluster, 'transaction');
    assert.equal(ctx.cluster.stats().misroutes, 0);
  });
});
