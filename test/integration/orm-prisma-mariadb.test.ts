// Prisma's @prisma/adapter-mariadb over dbrouter/mariadb (a routed pool with the `mariadb`
// connector's API), on real MariaDB replicas. The adapter is driven as Prisma's query compiler
// drives it (connect, queryRaw/executeRaw, startTransaction/commit, dispose), without a generated
// client: a plain read lands on a replica (by @@port); an insert then a read with every replica
// paused sees its row (read-your-writes); a transaction runs on the primary only; dispose returns.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { PrismaMariaDb } from '@prisma/adapter-mariadb';
import { createCluster, type Cluster } from '../../src/index.js';
import { createMariadbPool, type RoutedMariadbPool } from '../../src/engines/mysql/mariadb-connector.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';

const STR = { scalarType: 'string', arity: 'scalar' } as const;

describe('Prisma @prisma/adapter-mariadb over dbrouter/mariadb', { skip: await engineSkip('mariadb') }, () => {
  let local: LocalCluster;
  let cluster: Cluster;
  let pool: RoutedMariadbPool;
  let portOf: Map<number, string>;
  let adapter: Awaited<ReturnType<PrismaMariaDb['connect']>>;

  before(async () => {
    local = await sharedCluster('mariadb');
    portOf = new Map(Object.entries(local.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));
    const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role }]));
    cluster = createCluster({ databases, debug: true });
    pool = createMariadbPool(cluster);
    adapter = await new PrismaMariaDb(pool as never).connect();
    cluster.resetStats();
    await adapter.executeRaw({ sql: 'DROP TABLE IF EXISTS rt_prisma_items', args: [], argTypes: [] });
    await adapter.executeRaw({ sql: 'CREATE TABLE rt_prisma_items (id int AUTO_INCREMENT PRIMARY KEY, v varchar(100))', args: [], argTypes: [] });
    assert.ok(cluster.queries.every((q) => q.alias === 'default'), 'schema statements on the primary');
    await local.waitForAllReplicas();
  });
  after(async () => {
    await adapter?.dispose();
    await pool?.end();
    await cluster?.end();
  });

  test('a plain read lands on a replica', async () => {
    const r = await adapter.queryRaw({ sql: 'SELECT @@port AS port', args: [], argTypes: [] });
    assert.deepEqual(r.columnNames, ['port']);
    assert.match(portOf.get(Number(r.rows[0]![0]))!, /^replica/);
  });

  test('insert then read with every replica paused sees the row', async () => {
    await local.pause('replica1');
    await local.pause('replica2');
    try {
      const marker = `prisma-${Date.now()}`;
      const n = await adapter.executeRaw({ sql: 'INSERT INTO rt_prisma_items (v) VALUES (?)', args: [marker], argTypes: [STR] });
      assert.equal(n, 1);
      const r = await adapter.queryRaw({ sql: 'SELECT v, @@port AS port FROM rt_prisma_items WHERE v = ?', args: [marker], argTypes: [STR] });
      assert.equal(r.rows.length, 1);
      assert.equal(portOf.get(Number(r.rows[0]![1])), 'default');
    } finally {
      await local.resume('replica1');
      await local.resume('replica2');
    }
    await local.waitForAllReplicas();
  });

  test('a transaction runs on the primary only', async () => {
    cluster.resetStats();
    const tx = await adapter.startTransaction();
    await tx.executeRaw({ sql: 'INSERT INTO rt_prisma_items (v) VALUES (?)', args: ['prisma-tx'], argTypes: [STR] });
    const r = await tx.queryRaw({ sql: 'SELECT @@port AS port', args: [], argTypes: [] });
    assert.equal(portOf.get(Number(r.rows[0]![0])), 'default');
    await tx.commit();
    assert.ok(cluster.queries.length >= 4);
    assert.ok(cluster.queries.every((q) => q.alias === 'default'), JSON.stringify(cluster.queries.map((q) => [q.sql, q.alias])));
    assert.equal(cluster.stats().misroutes, 0);
  });
});

// The generated client over the same pool: `prisma generate` runs with no download (Prisma 7's
// query compiler needs no engine binary; PRISMA_SCHEMA_ENGINE_BINARY keeps the CLI from fetching
// the schema engine, which generate does not use). The schema is test/integration/prisma/.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface PrismaItems {
  rt_prisma_orm: {
    create(a: { data: { v: string } }): Promise<{ id: number; v: string }>;
    findUnique(a: { where: { id: number } }): Promise<{ id: number; v: string } | null>;
  };
  $queryRawUnsafe<T>(sql: string): Promise<T>;
  $transaction<T>(fn: (tx: PrismaItems) => Promise<T>): Promise<T>;
  $disconnect(): Promise<void>;
}

describe('Prisma 7 client (generated offline) with @prisma/adapter-mariadb over dbrouter/mariadb', { skip: await engineSkip('mariadb') }, () => {
  let local: LocalCluster;
  let cluster: Cluster;
  let pool: RoutedMariadbPool;
  let prisma: PrismaItems;
  let portOf: Map<number, string>;

  before(async () => {
    await promisify(execFile)(process.execPath, [path.join(root, 'node_modules/prisma/build/index.js'), 'generate', '--schema', 'test/integration/prisma/schema.prisma'], {
      cwd: root, timeout: 60_000, env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/false', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
    });
    const { PrismaClient } = (await import(pathToFileURL(path.join(root, 'node_modules/.cache/dbrouter-prisma-client/client.ts')).href)) as { PrismaClient: new (o: object) => PrismaItems };
    local = await sharedCluster('mariadb');
    portOf = new Map(Object.entries(local.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));
    const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role }]));
    cluster = createCluster({ databases, debug: true });
    pool = createMariadbPool(cluster);
    await pool.query('DROP TABLE IF EXISTS rt_prisma_orm');
    await pool.query('CREATE TABLE rt_prisma_orm (id int AUTO_INCREMENT PRIMARY KEY, v varchar(100) NOT NULL)');
    await local.waitForAllReplicas();
    prisma = new PrismaClient({ adapter: new PrismaMariaDb(pool as never) });
  });
  after(async () => {
    await prisma?.$disconnect();
    await pool?.end();
    await cluster?.end();
  });

  test('create then findUnique with every replica paused; raw read on a replica; $transaction on the primary only', async () => {
    const [r] = await prisma.$queryRawUnsafe<{ port: number }[]>('SELECT @@port AS port');
    assert.match(portOf.get(Number(r!.port))!, /^replica/);
    await local.pause('replica1');
    await local.pause('replica2');
    try {
      const created = await prisma.rt_prisma_orm.create({ data: { v: 'prisma-client' } });
      const found = await prisma.rt_prisma_orm.findUnique({ where: { id: created.id } });
      assert.equal(found?.v, 'prisma-client');
    } finally {
      await local.resume('replica1');
      await local.resume('replica2');
    }
    await local.waitForAllReplicas();
    cluster.resetStats();
    await prisma.$transaction(async (tx) => {
      await tx.rt_prisma_orm.create({ data: { v: 'prisma-tx' } });
      const [p] = await tx.$queryRawUnsafe<{ port: number }[]>('SELECT @@port AS port');
      assert.equal(portOf.get(Number(p!.port)), 'default');
    });
    assert.ok(cluster.queries.every((q) => q.alias === 'default'), JSON.stringify(cluster.queries.map((q) => [q.sql.slice(0, 50), q.alias])));
    assert.equal(cluster.stats().misroutes, 0);
  });
});
