// MikroORM 6 on PostgreSQL (@mikro-orm/postgresql) and on MariaDB (@mikro-orm/mysql, mysql2).
// MikroORM 6 builds its own Knex 3.2 client, which takes no pool (Knex's `connectionPool` came in
// 3.3) and loads its driver module itself; it is routed by handing that client dbrouter's driver
// module before it connects: `orm.em.getConnection().getKnex().client.driver = pgDriver(cluster)`
// (or `mysqlDriver(cluster)`). Each engine: the schema generator on the primary only; a create then
// a read with every replica paused sees its row, dates coming back as `Date` (MikroORM's own
// parsing of pg's text dates / mysql2's `dateStrings`: the driver module keeps the ORM's type
// parsers); plain reads land on replicas (by the server's own port); em.transactional on the
// primary only; orm.close() returns. MikroORM 6 has no stream API.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EntitySchema, MikroORM as PgMikroORM } from '@mikro-orm/postgresql';
import { MikroORM as MysqlMikroORM } from '@mikro-orm/mysql';
import { createCluster, type Cluster } from '../../src/index.js';
import { pgDriver } from '../../src/engines/postgres/index.js';
import { mysqlDriver } from '../../src/engines/mysql/index.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';
import { replicasPaused, within } from './orm-pg-helpers.js';

interface Item {
  id: number;
  v: string;
  at: Date;
  day: string;
}
const Items = new EntitySchema<Item>({
  name: 'RtMikroItem',
  tableName: 'rt_mikro_items',
  properties: { id: { type: 'number', primary: true, autoincrement: true }, v: { type: 'string' }, at: { type: 'Date' }, day: { type: 'date' } },
});

type Orm = Pick<PgMikroORM, 'em' | 'schema' | 'close'>;

const ENGINES = [
  { engine: 'postgres', port: 'SELECT inet_server_port() AS port' },
  { engine: 'mariadb', port: 'SELECT @@port AS port' },
] as const;

for (const { engine, port: PORT } of ENGINES) {
  describe(`MikroORM 6 (${engine}) with its Knex client's driver = dbrouter's driver module`, { skip: await engineSkip(engine) }, () => {
    let local: LocalCluster;
    let cluster: Cluster;
    let orm: Orm;
    let portOf: Map<number, string>;
    const aliasOf = (p: unknown): string => portOf.get(Number(p)) ?? `port ${String(p)}`;
    // In a transaction, MikroORM runs raw SQL on the transaction's connection only when given its context.
    const port = async (em = orm.em.fork()): Promise<string> => aliasOf((await em.getConnection().execute<{ port: number }[]>(PORT, [], 'all', em.getTransactionContext()))[0]!.port);

    before(async () => {
      local = await sharedCluster(engine);
      portOf = new Map(Object.entries(local.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));
      const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role, pool: { max: 2 } }]));
      cluster = createCluster({ databases, debug: true });
      const primary = new URL(local.databases.default!.url);
      // clientUrl names the database for MikroORM's SQL; dbrouter's driver module decides where it connects.
      const options = { entities: [Items], clientUrl: primary.href, dbName: primary.pathname.slice(1), connect: false, pool: { min: 0, max: 3 } };
      if (engine === 'postgres') {
        orm = await PgMikroORM.init(options);
        orm.em.getConnection().getKnex().client.driver = pgDriver(cluster);
      } else {
        orm = await MysqlMikroORM.init(options);
        orm.em.getConnection().getKnex().client.driver = mysqlDriver(cluster);
      }
      cluster.resetStats();
      await cluster.primary(async () => {
        await orm.schema.dropSchema();
        await orm.schema.createSchema();
      });
      await local.waitForAllReplicas();
    });
    after(async () => {
      if (orm !== undefined) await within(orm.close(), 5000, 'orm.close()');
      await cluster?.end();
    });

    test('the schema generator ran on the primary only', () => {
      assert.ok(cluster.queries.some((q) => /create table/i.test(q.sql)));
      assert.deepEqual([...new Set(cluster.queries.map((q) => q.alias))], ['default']);
    });

    test('plain reads with nothing written land on replicas', async () => {
      for (let i = 0; i < 3; i++) assert.match(await port(), /^replica/);
      const em = orm.em.fork();
      assert.deepEqual(await em.find(Items, { v: 'nothing' }), []);
    });

    test('a create then a read with every replica paused sees its row (on the primary); dates keep their types', async () => {
      const at = new Date('2024-05-06T07:08:09.000Z');
      const v = `mikro-${Date.now()}`;
      await replicasPaused(local, async () => {
        const em = orm.em.fork();
        em.create(Items, { v, at, day: '2024-05-06' });
        await em.flush();
        const got = await orm.em.fork().findOne(Items, { v });
        assert.equal(got?.v, v);
        assert.ok(got?.at instanceof Date, `at is ${typeof got?.at}: ${String(got?.at)}`);
        assert.equal(got.at.getTime(), at.getTime());
        // A date-only column is MikroORM's string: before, pgDriver's Client dropped the ORM's
        // type parsers and pg turned it into a Date at local midnight.
        assert.equal(got.day, '2024-05-06');
        assert.equal(await port(), 'default');
      });
    });

    test('em.transactional runs on the primary only', async () => {
      cluster.resetStats();
      const where = await orm.em.fork().transactional(async (em) => {
        em.create(Items, { v: 'tx', at: new Date(), day: '2024-01-01' });
        await em.flush();
        return port(em);
      });
      assert.equal(where, 'default');
      assert.ok(cluster.queries.length >= 3);
      assert.deepEqual([...new Set(cluster.queries.map((q) => q.alias))], ['default'], JSON.stringify(cluster.queries.map((q) => [q.alias, q.sql.slice(0, 60)])));
    });
  });
}
