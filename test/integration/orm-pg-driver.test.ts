// The routed pg pool as the drivers' own objects: cursors and streams routed (a read on a replica,
// a streamed write on the primary, the connection held for the stream's life and given back on
// end, error and early stop), Kysely's own stream cases, pg's Pool API (end(cb), instanceof,
// options that survive a spread), and session set-up replayed on replicas. Asserted by the
// server's own port and by the pool's connection counts.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import Cursor from 'pg-cursor';
import QueryStream from 'pg-query-stream';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { createPgPool, pgDriver, type RoutedPgPool } from '../../src/engines/postgres/index.js';
import { engineSkip } from '../harness/clusters.js';
import { idleWithin, pgOrmSetup, replicasPaused, within, type PgOrmSetup } from './orm-pg-helpers.js';

const POOL_SIZE = 2;

async function readAll(cursor: Cursor, chunk = 10): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (;;) {
    const rows = await cursor.read(chunk);
    if (rows.length === 0) break;
    out.push(...(rows as Record<string, unknown>[]));
  }
  await cursor.close();
  return out;
}

describe('pg driver fidelity and routed streams', { skip: await engineSkip('postgres') }, () => {
  let s: PgOrmSetup;
  let pool: RoutedPgPool;

  before(async () => {
    s = await pgOrmSetup();
    pool = createPgPool(s.cluster, { onConnect: ["SET application_name = 'dbrouter-orm-test'"] });
    await pool.query('DROP TABLE IF EXISTS rt_pgd_items');
    await pool.query('CREATE TABLE rt_pgd_items (id serial PRIMARY KEY, v text)');
    await pool.query("INSERT INTO rt_pgd_items (v) SELECT 'row' || g FROM generate_series(1, 25) g");
    await s.local.waitForAllReplicas();
  });
  after(async () => {
    await pool?.end();
    await s?.cluster.end();
  });

  test('a cursor on the pool reads on a replica and gives its connection back at the end', async () => {
    const rows = await readAll(pool.query(new Cursor('SELECT id, inet_server_port() AS port FROM rt_pgd_items ORDER BY id')), 7);
    assert.equal(rows.length, 25);
    assert.match(s.aliasOf(rows[0]!.port)!, /^replica/);
    await idleWithin(pool);
  });

  test('a query stream on a checked-out client reads on a replica; destroy() mid-stream releases its connection', async () => {
    const client = await pool.connect();
    const stream = client.query(new QueryStream('SELECT id, inet_server_port() AS port FROM rt_pgd_items ORDER BY id', [], { batchSize: 2 }));
    let seen = 0;
    let port: unknown;
    for await (const row of stream as AsyncIterable<{ port: number }>) {
      port = row.port;
      if (++seen === 3) break;
    }
    assert.equal(seen, 3);
    assert.match(s.aliasOf(port)!, /^replica/);
    assert.equal(client.boundAlias, undefined, 'a read stream does not bind the client');
    client.release();
    await idleWithin(pool);
  });

  test('a streamed write (INSERT … RETURNING through a cursor) runs on the primary and binds the client', async () => {
    const client = await pool.connect();
    const rows = await readAll(client.query(new Cursor("INSERT INTO rt_pgd_items (v) VALUES ('cursor-write') RETURNING id, inet_server_port() AS port")));
    assert.equal(rows.length, 1);
    assert.equal(s.aliasOf(rows[0]!.port), 'default');
    assert.equal(client.boundAlias, 'default');
    client.release();
    await idleWithin(pool);
  });

  test('a failing cursor reports its error and gives its connection back', async () => {
    const cursor = pool.query(new Cursor('SELECT * FROM rt_pgd_no_such_table'));
    await assert.rejects(cursor.read(10), /does not exist/);
    await idleWithin(pool);
  });

  test('with every replica paused, a stream after a write reads on the primary and sees the row; once replayed, on a replica', async () => {
    const marker = `stream-ryw-${Date.now()}`;
    await replicasPaused(s.local, async () => {
      await pool.query('INSERT INTO rt_pgd_items (v) VALUES ($1)', [marker]);
      const rows = await readAll(pool.query(new Cursor('SELECT v, inet_server_port() AS port FROM rt_pgd_items WHERE v = $1', [marker])));
      assert.equal(rows.length, 1, 'the stream saw the write');
      assert.equal(s.aliasOf(rows[0]!.port), 'default');
    });
    const rows = await readAll(pool.query(new Cursor('SELECT v, inet_server_port() AS port FROM rt_pgd_items WHERE v = $1', [marker])));
    assert.equal(rows.length, 1);
    assert.match(s.aliasOf(rows[0]!.port)!, /^replica/);
    await idleWithin(pool);
  });

  // Kysely's own stream cases (select.test.ts), through the routed pool with a pool of POOL_SIZE.
  test("Kysely's stream cases: results, chunk size 1, premature stop releases the connection (POOL_SIZE + 2 times)", async () => {
    const tiny = await pgOrmSetup({}, POOL_SIZE);
    const small = createPgPool(tiny.cluster);
    const db = new Kysely<{ rt_pgd_items: { id: number; v: string } }>({ dialect: new PostgresDialect({ pool: small, cursor: Cursor }) });
    try {
      const all: unknown[] = [];
      for await (const r of db.selectFrom('rt_pgd_items').select(['id', sql<number>`inet_server_port()`.as('port')]).where('id', '<=', 5).orderBy('id').stream()) all.push(r);
      assert.equal(all.length, 5);
      assert.match(s.aliasOf((all[0] as { port: number }).port)!, /^replica/);
      const one: unknown[] = [];
      for await (const r of db.selectFrom('rt_pgd_items').select('id').where('id', '<=', 5).orderBy('id').stream(1)) one.push(r);
      assert.deepEqual(one, all.map((r) => ({ id: (r as { id: number }).id })));
      for (const chunk of [undefined, 1]) {
        for (let i = 0; i <= POOL_SIZE + 1; i++) {
          for await (const _ of db.selectFrom('rt_pgd_items').selectAll().stream(chunk)) break;
        }
      }
      await idleWithin(small);
      // In a transaction the stream runs on the transaction's connection, on the primary.
      const inTx = await db.transaction().execute(async (trx) => {
        const got: { port: number }[] = [];
        for await (const r of trx.selectNoFrom(sql<number>`inet_server_port()`.as('port')).stream()) got.push(r);
        return got;
      });
      assert.equal(s.aliasOf(inTx[0]!.port), 'default');
      await idleWithin(small);
    } finally {
      await within(db.destroy(), 5000, 'Kysely destroy()');
      await tiny.cluster.end();
    }
    assert.equal(small.ended, true);
  });

  test("pg's Pool API: instanceof pg.Pool, end(callback), ending/ended, expiredCount, options survive a spread but not a log", async () => {
    const p = createPgPool(s.cluster);
    assert.ok(p instanceof pg.Pool, 'instanceof pg.Pool (what Prisma checks)');
    const c = await p.connect();
    assert.ok(c instanceof pg.Client);
    assert.equal(c.escapeLiteral("it's"), "'it''s'");
    assert.equal(c.escapeIdentifier('a"b'), '"a""b"');
    c.release();
    assert.equal(typeof p.expiredCount, 'number');
    const copy = { ...p.options };
    const direct = new pg.Client(copy);
    await direct.connect();
    assert.equal((await direct.query('SELECT 1 AS one')).rows[0].one, 1, 'a spread copy of options connects (password kept)');
    await direct.end();
    const password = Object.values(s.local.databases)[0]!.url;
    const pw = new URL(password).password;
    if (pw !== '') {
      assert.ok(!inspect(p.options).includes(pw), 'inspect hides the password');
      assert.ok(!JSON.stringify(p.options).includes(pw), 'JSON hides the password');
    }
    assert.equal(p.ending, false);
    await within(new Promise<void>((resolve) => p.end(() => resolve())), 5000, 'end(callback)');
    assert.equal(p.ending, true);
    assert.equal(p.ended, true);
  });

  test('session set-up on a fresh checkout keeps the client on replicas and takes effect there; onConnect applies to every node', async () => {
    const client = await pool.connect();
    await client.query("SET TIME ZONE 'Asia/Tokyo'");
    await client.query('SET search_path TO public');
    const r = await client.query<{ tz: string; port: number; app: string }>("SELECT current_setting('TimeZone') AS tz, inet_server_port() AS port, current_setting('application_name') AS app");
    assert.equal(r.rows[0]!.tz, 'Asia/Tokyo');
    assert.match(s.aliasOf(r.rows[0]!.port)!, /^replica/, 'SET did not pin the client to the primary');
    assert.equal(client.boundAlias, undefined);
    // A write binds the client to the primary: the setting follows it there.
    const w = await client.query<{ tz: string; port: number }>("INSERT INTO rt_pgd_items (v) VALUES ('tz') RETURNING current_setting('TimeZone') AS tz, inet_server_port() AS port");
    assert.equal(w.rows[0]!.tz, 'Asia/Tokyo');
    assert.equal(s.aliasOf(w.rows[0]!.port), 'default');
    await client.query('DISCARD ALL');
    client.release();
    await idleWithin(pool);
    // Released connections were reset: the next borrowers see the server's time zone again, and the onConnect setting.
    for (let i = 0; i < 4; i++) {
      const fresh = await pool.query<{ tz: string; app: string }>("SELECT current_setting('TimeZone') AS tz, current_setting('application_name') AS app");
      assert.notEqual(fresh.rows[0]!.tz, 'Asia/Tokyo');
      assert.equal(fresh.rows[0]!.app, 'dbrouter-orm-test');
    }
  });

  test('pgDriver(cluster): Client is a lazily binding routed client; Pool is a routed pool', async () => {
    const driver = pgDriver(s.cluster);
    const c = new driver.Client({ host: 'ignored' });
    assert.ok(c instanceof driver.Client);
    await c.connect();
    const r = await c.query<{ port: number }>('SELECT inet_server_port() AS port');
    assert.match(s.aliasOf(r.rows[0]!.port)!, /^replica/);
    await c.query('BEGIN');
    const t = await c.query<{ port: number }>('SELECT inet_server_port() AS port');
    assert.equal(s.aliasOf(t.rows[0]!.port), 'default');
    await c.query('COMMIT');
    await c.end();
    const p = new driver.Pool({});
    assert.ok(p instanceof pg.Pool);
    await within(new Promise<void>((resolve) => p.end(() => resolve())), 5000, 'driver Pool end(cb)');
    await driver.end();
  });
});
