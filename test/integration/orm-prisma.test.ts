// Prisma 7's driver adapter for pg (`new PrismaPg(createPgPool(cluster))`), driven directly: the
// adapter is what Prisma Client's query compiler runs every statement through (the generated
// client is not built here: `prisma generate` downloads a schema engine, see docs/orms.md). Before,
// PrismaPg ignored the pool (`instanceof pg.Pool` was false) and connected to PostgreSQL's
// defaults. A create then a read with every replica paused sees its row; plain reads land on
// replicas; an adapter transaction runs on the primary only; dispose() returns.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PrismaPg } from '@prisma/adapter-pg';
import { createPgPool, type RoutedPgPool } from '../../src/engines/postgres/index.js';
import { engineSkip } from '../harness/clusters.js';
import { pgOrmSetup, replicasPaused, within, type PgOrmSetup } from './orm-pg-helpers.js';

type Adapter = Awaited<ReturnType<PrismaPg['connect']>>;
const q = (sql: string, args: unknown[] = []) => ({ sql, args, argTypes: args.map(() => ({ scalarType: 'string' as const, arity: 'scalar' as const })) });

describe('Prisma 7 adapter-pg over the routed pool', { skip: await engineSkip('postgres') }, () => {
  let s: PgOrmSetup;
  let pool: RoutedPgPool;
  let adapter: Adapter;

  before(async () => {
    s = await pgOrmSetup();
    pool = createPgPool(s.cluster);
    adapter = await new PrismaPg(pool).connect();
    assert.equal(adapter.underlyingDriver(), pool, 'PrismaPg took the routed pool (instanceof pg.Pool)');
    await s.cluster.primary(() => adapter.executeScript('DROP TABLE IF EXISTS rt_prisma_items; CREATE TABLE rt_prisma_items (id serial PRIMARY KEY, v text)'));
    await s.local.waitForAllReplicas();
  });
  after(async () => {
    if (adapter !== undefined) await within(adapter.dispose(), 5000, 'adapter.dispose()');
    await pool?.end();
    await s?.cluster.end();
  });

  test('plain reads land on replicas', async () => {
    const r = await adapter.queryRaw(q('SELECT inet_server_port() AS port'));
    assert.match(s.aliasOf(r.rows[0]![0])!, /^replica/);
  });

  test('a create then a read with every replica paused sees its row (on the primary)', async () => {
    const marker = `prisma-${Date.now()}`;
    await replicasPaused(s.local, async () => {
      assert.equal(await adapter.executeRaw(q('INSERT INTO rt_prisma_items (v) VALUES ($1)', [marker])), 1);
      const r = await adapter.queryRaw(q('SELECT v, inet_server_port() AS port FROM rt_prisma_items WHERE v = $1', [marker]));
      assert.equal(r.rows.length, 1);
      assert.equal(s.aliasOf(r.rows[0]![1]), 'default');
    });
  });

  test('an adapter transaction (what $transaction uses) runs on the primary only', async () => {
    s.cluster.resetStats();
    const tx = await adapter.startTransaction();
    await tx.executeRaw(q("INSERT INTO rt_prisma_items (v) VALUES ('tx')"));
    const r = await tx.queryRaw(q('SELECT inet_server_port() AS port'));
    await tx.commit();
    assert.equal(s.aliasOf(r.rows[0]![0]), 'default');
    assert.ok(s.cluster.queries.every((x) => x.alias === 'default'), JSON.stringify(s.cluster.queries.map((x) => [x.alias, x.sql])));
  });
});
