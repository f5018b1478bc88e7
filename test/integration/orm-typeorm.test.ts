// TypeORM (postgres) with `driver: pgDriver(cluster)`: one option routes it. A create then a read
// with every replica paused sees its row; plain reads land on replicas; dataSource.transaction and
// schema synchronization run on the primary only; a query builder's stream reads on a replica and,
// destroyed early, gives its connection back; destroy() returns (it called pool.end(cb), which
// never called back before). Asserted by the server's own port and the statement log.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DataSource, EntitySchema } from 'typeorm';
import { pgDriver, type PgDriverModule } from '../../src/engines/postgres/index.js';
import { engineSkip } from '../harness/clusters.js';
import { idleWithin, pgOrmSetup, replicasPaused, within, type PgOrmSetup } from './orm-pg-helpers.js';

interface Item {
  id: number;
  v: string;
}
const Items = new EntitySchema<Item>({
  name: 'rt_to_items',
  columns: { id: { type: Number, primary: true, generated: true }, v: { type: String } },
});

describe('TypeORM (postgres) with driver: pgDriver(cluster)', { skip: await engineSkip('postgres') }, () => {
  let s: PgOrmSetup;
  let driver: PgDriverModule;
  let ds: DataSource;

  before(async () => {
    s = await pgOrmSetup();
    driver = pgDriver(s.cluster);
    const url = new URL(s.primaryUrl);
    ds = new DataSource({ type: 'postgres', driver, host: url.hostname, port: Number(url.port), username: url.username, database: url.pathname.slice(1), entities: [Items], poolSize: 3 });
    await ds.initialize();
    await s.cluster.primary(() => ds.query('DROP TABLE IF EXISTS rt_to_items'));
    s.cluster.resetStats();
    // Schema sync reads the catalog on its own connection: in a primary scope, all of it is on the primary.
    await s.cluster.primary(() => ds.synchronize());
    await s.local.waitForAllReplicas();
  });
  after(async () => {
    if (ds?.isInitialized) await within(ds.destroy(), 5000, 'dataSource.destroy()');
    await driver?.end();
    await s?.cluster.end();
  });

  test('schema synchronization ran on the primary only', () => {
    const where = new Set(s.cluster.queries.map((q) => q.alias));
    assert.ok(s.cluster.queries.some((q) => /CREATE TABLE/i.test(q.sql)));
    assert.deepEqual([...where], ['default']);
  });

  test('a create then a read with every replica paused sees its row (on the primary)', async () => {
    const marker = `typeorm-${Date.now()}`;
    await replicasPaused(s.local, async () => {
      await ds.getRepository(Items).save({ v: marker });
      const got = await ds.getRepository(Items).findOneBy({ v: marker });
      assert.equal(got?.v, marker);
      const [row] = await ds.query<{ port: number }[]>('SELECT inet_server_port() AS port FROM rt_to_items WHERE v = $1', [marker]);
      assert.equal(s.aliasOf(row!.port), 'default');
    });
  });

  test('plain reads with nothing written land on replicas', async () => {
    const [row] = await ds.query<{ port: number }[]>('SELECT inet_server_port() AS port');
    assert.match(s.aliasOf(row!.port)!, /^replica/);
    const r = await ds.getRepository(Items).createQueryBuilder('i').select('inet_server_port()', 'port').limit(1).getRawMany<{ port: number }>();
    if (r.length > 0) assert.match(s.aliasOf(r[0]!.port)!, /^replica/);
  });

  test('dataSource.transaction runs on the primary only', async () => {
    s.cluster.resetStats();
    const port = await ds.transaction(async (em) => {
      await em.getRepository(Items).save({ v: 'tx' });
      const [row] = await em.query<{ port: number }[]>('SELECT inet_server_port() AS port');
      return row!.port;
    });
    assert.equal(s.aliasOf(port), 'default');
    assert.ok(s.cluster.queries.every((q) => q.alias === 'default'), JSON.stringify(s.cluster.queries.map((q) => [q.alias, q.sql])));
  });

  test("a query builder's stream reads on a replica; destroyed early, its connection goes back", async () => {
    await ds.getRepository(Items).save([{ v: 's1' }, { v: 's2' }, { v: 's3' }]);
    await s.local.waitForAllReplicas();
    const stream = await ds.getRepository(Items).createQueryBuilder('i').select('i.id', 'id').addSelect('inet_server_port()', 'port').stream();
    let seen = 0;
    let port: unknown;
    for await (const row of stream as AsyncIterable<{ port: number }>) {
      port = row.port;
      if (++seen === 2) break;
    }
    assert.match(s.aliasOf(port)!, /^replica/);
    // TypeORM's query runner gives its client back when the stream ends or closes: a few more
    // streams than the pool has connections prove none leaked.
    for (let i = 0; i < 5; i++) {
      const again = await ds.getRepository(Items).createQueryBuilder('i').select('i.id', 'id').stream();
      for await (const _ of again) break;
    }
    await idleWithin((ds.driver as unknown as { master: { totalCount: number; idleCount: number } }).master);
  });
});
