// Prisma 7 with its driver adapter for pg (`new PrismaPg(createPgPool(cluster))`): the adapter
// driven directly (what Prisma Client's query compiler runs every statement through), then a
// client generated in the test with no download (`PRISMA_SCHEMA_ENGINE_BINARY=/bin/false prisma
// generate`: Prisma 7's query compiler needs no engine binary). Before, PrismaPg ignored the pool
// (`instanceof pg.Pool` was false) and connected to PostgreSQL's defaults. A create then a read
// with every replica paused sees its row; plain reads land on replicas; an adapter transaction and
// $transaction run on the primary only; dispose() and $disconnect() return.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
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

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface PrismaItems {
  rt_prisma_pg_orm: {
    create(a: { data: { v: string; at: Date } }): Promise<{ id: number; v: string; at: Date }>;
    findUnique(a: { where: { id: number } }): Promise<{ id: number; v: string; at: Date } | null>;
  };
  $queryRawUnsafe<T>(sql: string): Promise<T>;
  $transaction<T>(fn: (tx: PrismaItems) => Promise<T>): Promise<T>;
  $disconnect(): Promise<void>;
}

describe('Prisma 7 client (generated offline) with @prisma/adapter-pg over the routed pool', { skip: await engineSkip('postgres') }, () => {
  let s: PgOrmSetup;
  let pool: RoutedPgPool;
  let prisma: PrismaItems;

  before(async () => {
    // The schema is test/integration/prisma-pg/; PRISMA_SCHEMA_ENGINE_BINARY keeps the CLI from
    // fetching the schema engine, which `generate` does not use.
    await promisify(execFile)(process.execPath, [path.join(root, 'node_modules/prisma/build/index.js'), 'generate', '--schema', 'test/integration/prisma-pg/schema.prisma'], {
      cwd: root, timeout: 60_000, env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/false', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
    });
    const { PrismaClient } = (await import(pathToFileURL(path.join(root, 'node_modules/.cache/dbrouter-prisma-pg-client/client.ts')).href)) as { PrismaClient: new (o: object) => PrismaItems };
    s = await pgOrmSetup();
    pool = createPgPool(s.cluster);
    // Prisma Migrate needs the schema engine (and connects by URL, to the primary): the table is made here.
    s.cluster.resetStats();
    await pool.query('DROP TABLE IF EXISTS rt_prisma_pg_orm');
    await pool.query('CREATE TABLE rt_prisma_pg_orm (id serial PRIMARY KEY, v text NOT NULL, at timestamptz(3) NOT NULL)');
    assert.deepEqual([...new Set(s.cluster.queries.map((q) => q.alias))], ['default']);
    await s.local.waitForAllReplicas();
    prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  });
  after(async () => {
    if (prisma !== undefined) await within(prisma.$disconnect(), 5000, '$disconnect()');
    await pool?.end();
    await s?.cluster.end();
  });

  test('a raw read lands on a replica', async () => {
    const [r] = await prisma.$queryRawUnsafe<{ port: number }[]>('SELECT inet_server_port() AS port');
    assert.match(s.aliasOf(r!.port)!, /^replica/);
  });

  test('create then findUnique with every replica paused sees the row, its DateTime a Date', async () => {
    const at = new Date('2024-05-06T07:08:09.123Z');
    await replicasPaused(s.local, async () => {
      const created = await prisma.rt_prisma_pg_orm.create({ data: { v: 'prisma-client', at } });
      const found = await prisma.rt_prisma_pg_orm.findUnique({ where: { id: created.id } });
      assert.equal(found?.v, 'prisma-client');
      assert.ok(found.at instanceof Date);
      assert.equal(found.at.getTime(), at.getTime());
    });
  });

  test('$transaction runs on the primary only', async () => {
    s.cluster.resetStats();
    const port = await prisma.$transaction(async (tx) => {
      await tx.rt_prisma_pg_orm.create({ data: { v: 'prisma-tx', at: new Date() } });
      const [p] = await tx.$queryRawUnsafe<{ port: number }[]>('SELECT inet_server_port() AS port');
      return p!.port;
    });
    assert.equal(s.aliasOf(port), 'default');
    assert.ok(s.cluster.queries.length >= 3);
    assert.ok(s.cluster.queries.every((q) => q.alias === 'default'), JSON.stringify(s.cluster.queries.map((q) => [q.sql.slice(0, 50), q.alias])));
  });
});
