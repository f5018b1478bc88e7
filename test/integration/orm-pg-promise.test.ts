// pg-promise 12 with `pgp.pg = pgDriver(cluster)` (before `pgp(...)`): its Database builds its
// pool from that module. A create then a read with every replica paused sees its row; plain reads
// land on replicas; db.tx runs on the primary only; a connection's client streams a query on a replica
// and gives its connection back after an early stop; $pool.end() returns.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pgPromise from 'pg-promise';
import QueryStream from 'pg-query-stream';
import { pgDriver, type PgDriverModule, type RoutedPgPool } from '../../src/engines/postgres/index.js';
import { engineSkip } from '../harness/clusters.js';
import { idleWithin, pgOrmSetup, replicasPaused, within, type PgOrmSetup } from './orm-pg-helpers.js';

describe('pg-promise with pgp.pg = pgDriver(cluster)', { skip: await engineSkip('postgres') }, () => {
  let s: PgOrmSetup;
  let driver: PgDriverModule;
  let db: pgPromise.IDatabase<object>;

  before(async () => {
    s = await pgOrmSetup();
    driver = pgDriver(s.cluster);
    const pgp = pgPromise();
    (pgp as { pg: unknown }).pg = driver;
    db = pgp(s.primaryUrl);
    s.cluster.resetStats();
    await s.cluster.primary(() => db.none('DROP TABLE IF EXISTS rt_pgp_items; CREATE TABLE rt_pgp_items (id serial PRIMARY KEY, v text)'));
    await s.local.waitForAllReplicas();
  });
  after(async () => {
    if (db !== undefined) await within(db.$pool.end(), 5000, 'db.$pool.end()');
    await driver?.end();
    await s?.cluster.end();
  });

  test('the schema ran on the primary; the pool is a routed pool', () => {
    assert.deepEqual([...new Set(s.cluster.queries.map((q) => q.alias))], ['default']);
    assert.equal((db.$pool as unknown as RoutedPgPool).constructor.name, 'Pool');
    assert.ok('boundAlias' in (db.$pool as unknown as RoutedPgPool) === false);
  });

  test('a create then a read with every replica paused sees its row (on the primary)', async () => {
    const marker = `pgp-${Date.now()}`;
    await replicasPaused(s.local, async () => {
      const ins = await db.one<{ port: number }>('INSERT INTO rt_pgp_items (v) VALUES ($1) RETURNING inet_server_port() AS port', [marker]);
      assert.equal(s.aliasOf(ins.port), 'default');
      const got = await db.one<{ v: string; port: number }>('SELECT v, inet_server_port() AS port FROM rt_pgp_items WHERE v = $1', [marker]);
      assert.equal(got.v, marker);
      assert.equal(s.aliasOf(got.port), 'default');
    });
  });

  test('plain reads land on replicas', async () => {
    const r = await db.one<{ port: number }>('SELECT inet_server_port() AS port');
    assert.match(s.aliasOf(r.port)!, /^replica/);
  });

  test('db.tx runs on the primary only', async () => {
    s.cluster.resetStats();
    const port = await db.tx(async (t) => {
      await t.none("INSERT INTO rt_pgp_items (v) VALUES ('tx')");
      return (await t.one<{ port: number }>('SELECT inet_server_port() AS port')).port;
    });
    assert.equal(s.aliasOf(port), 'default');
    assert.ok(s.cluster.queries.every((q) => q.alias === 'default'), JSON.stringify(s.cluster.queries.map((q) => [q.alias, q.sql])));
  });

  test('a stream on a replica, stopped early, gives its connection back', async () => {
    await db.none("INSERT INTO rt_pgp_items (v) SELECT 'r' || g FROM generate_series(1, 10) g");
    await s.local.waitForAllReplicas();
    const sco = await db.connect();
    let port: unknown;
    try {
      const stream: QueryStream = (sco.client as unknown as { query(q: QueryStream): QueryStream }).query(new QueryStream('SELECT id, inet_server_port() AS port FROM rt_pgp_items', [], { batchSize: 2 }));
      for await (const row of stream) {
        port = (row as { port: number }).port;
        break;
      }
    } finally {
      void sco.done();
    }
    assert.match(s.aliasOf(port)!, /^replica/);
    await idleWithin(db.$pool);
  });
});
