// Sequelize 6 (postgres) with `dialectModule: pgDriver(cluster)`: one option routes it (before, it
// built plain pg Clients and bypassed dbrouter). Its per-connection set-up (`SET client_min_messages`,
// `SET TIME ZONE`) no longer pins connections to the primary: plain reads land on replicas with
// the time zone in force there. A create then a read with every replica paused sees its row;
// sequelize.transaction and sync() run on the primary only; close() returns.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DataTypes, QueryTypes, Sequelize, type ModelStatic, type Model } from 'sequelize';
import { pgDriver, type PgDriverModule } from '../../src/engines/postgres/index.js';
import { engineSkip } from '../harness/clusters.js';
import { pgOrmSetup, replicasPaused, within, type PgOrmSetup } from './orm-pg-helpers.js';

describe('Sequelize (postgres) with dialectModule: pgDriver(cluster)', { skip: await engineSkip('postgres') }, () => {
  let s: PgOrmSetup;
  let driver: PgDriverModule;
  let sequelize: Sequelize;
  let Item: ModelStatic<Model<{ id: number; v: string }, { v: string }>>;

  before(async () => {
    s = await pgOrmSetup();
    driver = pgDriver(s.cluster);
    sequelize = new Sequelize(s.primaryUrl, { dialect: 'postgres', dialectModule: driver, logging: false, timezone: '+09:00', pool: { max: 3 } });
    Item = sequelize.define('rt_sq_items', { id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true }, v: DataTypes.STRING }, { tableName: 'rt_sq_items', timestamps: false });
    s.cluster.resetStats();
    await s.cluster.primary(() => Item.sync({ force: true }));
    await s.local.waitForAllReplicas();
  });
  after(async () => {
    if (sequelize !== undefined) await within(sequelize.close(), 5000, 'sequelize.close()');
    await driver?.end();
    await s?.cluster.end();
  });

  test('sync() ran on the primary only', () => {
    const ddl = s.cluster.queries.filter((q) => /CREATE TABLE|DROP TABLE/i.test(q.sql));
    assert.ok(ddl.length >= 1);
    assert.ok(ddl.every((q) => q.alias === 'default'), JSON.stringify(ddl.map((q) => [q.alias, q.sql])));
    assert.ok(s.cluster.queries.filter((q) => !/^SET /i.test(q.sql)).every((q) => q.alias === 'default'));
  });

  test("plain reads land on replicas, with Sequelize's SET TIME ZONE in force there", async () => {
    const [row] = await sequelize.query<{ port: number; tz: string }>("SELECT inet_server_port() AS port, current_setting('TimeZone') AS tz", { type: QueryTypes.SELECT });
    assert.match(s.aliasOf(row!.port)!, /^replica/);
    assert.match(row!.tz, /09/, `the connection's time zone is Sequelize's +09:00, got ${row!.tz}`);
  });

  test('a create then a read with every replica paused sees its row (on the primary)', async () => {
    const marker = `sq-${Date.now()}`;
    await replicasPaused(s.local, async () => {
      await Item.create({ v: marker });
      const got = await Item.findOne({ where: { v: marker } });
      assert.equal(got?.get('v'), marker);
      const [row] = await sequelize.query<{ port: number }>('SELECT inet_server_port() AS port FROM rt_sq_items WHERE v = $1', { bind: [marker], type: QueryTypes.SELECT });
      assert.equal(s.aliasOf(row!.port), 'default');
    });
  });

  test('sequelize.transaction runs on the primary only', async () => {
    s.cluster.resetStats();
    const port = await sequelize.transaction(async (transaction) => {
      await Item.create({ v: 'tx' }, { transaction });
      const [row] = await sequelize.query<{ port: number }>('SELECT inet_server_port() AS port', { type: QueryTypes.SELECT, transaction });
      return row!.port;
    });
    assert.equal(s.aliasOf(port), 'default');
    const notSetup = s.cluster.queries.filter((q) => !/^SET /i.test(q.sql));
    assert.ok(notSetup.every((q) => q.alias === 'default'), JSON.stringify(s.cluster.queries.map((q) => [q.alias, q.sql])));
  });
});
