// Knex (pg) over the routed pool, unchanged (`connectionPool: pool`): a create then a read with
// every replica paused sees its row; plain reads land on replicas; knex.transaction and
// knex.migrate run on the primary only; .stream() reads on a replica and, stopped early, gives its
// connection back; destroy() returns. Asserted by the server's own port and the statement log.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import knexFactory, { type Knex } from 'knex';
import { createPgPool, type RoutedPgPool } from '../../src/engines/postgres/index.js';
import { engineSkip } from '../harness/clusters.js';
import { idleWithin, pgOrmSetup, replicasPaused, within, type PgOrmSetup } from './orm-pg-helpers.js';

describe('Knex (pg) over the routed pool', { skip: await engineSkip('postgres') }, () => {
  let s: PgOrmSetup;
  let pool: RoutedPgPool;
  let knex: Knex;

  before(async () => {
    s = await pgOrmSetup();
    pool = createPgPool(s.cluster);
    knex = knexFactory({ client: 'pg', connectionPool: pool });
    s.cluster.resetStats();
    // Migrations read their bookkeeping tables outside their transaction: run them in a primary
    // scope, so every statement goes to the primary.
    await s.cluster.primary(() => knex.migrate.latest({
      tableName: 'rt_knex_migrations',
      migrationSource: {
        getMigrations: () => Promise.resolve(['001_items']),
        getMigrationName: (m: string) => m,
        getMigration: () => Promise.resolve({
          up: async (k: Knex) => {
            await k.schema.dropTableIfExists('rt_knex_items');
            await k.schema.createTable('rt_knex_items', (t) => { t.increments('id'); t.string('v'); });
          },
          down: (k: Knex) => k.schema.dropTable('rt_knex_items'),
        }),
      },
    }));
    await knex.raw('TRUNCATE rt_knex_migrations');
    await s.local.waitForAllReplicas();
  });
  after(async () => {
    await within(knex.destroy(), 5000, 'knex.destroy()');
    await pool?.end();
    await s?.cluster.end();
  });

  test('migrations ran on the primary only', () => {
    // The log was reset before migrate.latest(): everything since ran on the primary.
    const where = new Set(s.cluster.queries.filter((q) => !/^TRUNCATE/i.test(q.sql)).map((q) => q.alias));
    assert.deepEqual([...where], ['default'], JSON.stringify(s.cluster.queries.map((q) => [q.alias, q.sql.slice(0, 60)])));
  });

  test('a create then a read with every replica paused sees its row (on the primary)', async () => {
    const marker = `knex-${Date.now()}`;
    await replicasPaused(s.local, async () => {
      const [row] = await knex('rt_knex_items').insert({ v: marker }).returning(['id', knex.raw('inet_server_port() AS port')]);
      assert.equal(s.aliasOf((row as { port: number }).port), 'default');
      const got = await knex('rt_knex_items').where({ v: marker }).select('v', knex.raw('inet_server_port() AS port'));
      assert.equal(got.length, 1);
      assert.equal(s.aliasOf(got[0].port), 'default');
    });
  });

  test('plain reads with nothing written land on replicas', async () => {
    const r = await knex.raw<{ rows: { port: number }[] }>('SELECT inet_server_port() AS port');
    assert.match(s.aliasOf(r.rows[0]!.port)!, /^replica/);
    const rows = await knex('rt_knex_items').select(knex.raw('inet_server_port() AS port')).limit(1);
    if (rows.length > 0) assert.match(s.aliasOf(rows[0].port)!, /^replica/);
  });

  test('knex.transaction runs on the primary only', async () => {
    s.cluster.resetStats();
    const port = await knex.transaction(async (trx) => {
      await trx('rt_knex_items').insert({ v: 'tx' });
      const r = await trx.raw<{ rows: { port: number }[] }>('SELECT inet_server_port() AS port');
      return r.rows[0]!.port;
    });
    assert.equal(s.aliasOf(port), 'default');
    assert.ok(s.cluster.queries.every((q) => q.alias === 'default'), JSON.stringify(s.cluster.queries.map((q) => [q.alias, q.sql])));
  });

  test('.stream() reads on a replica; stopped early it gives its connection back', async () => {
    await knex('rt_knex_items').insert([{ v: 's1' }, { v: 's2' }, { v: 's3' }]);
    await s.local.waitForAllReplicas();
    let seen = 0;
    let port: unknown;
    const stream = knex('rt_knex_items').select('id', knex.raw('inet_server_port() AS port')).stream({ batchSize: 1 });
    for await (const row of stream as AsyncIterable<{ port: number }>) {
      port = row.port;
      if (++seen === 2) break;
    }
    assert.equal(seen, 2);
    assert.match(s.aliasOf(port)!, /^replica/);
    await idleWithin(pool);
  });
});
