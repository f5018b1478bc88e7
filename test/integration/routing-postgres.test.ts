// Where each statement ran, asked of the server itself (inet_server_port()), through the routed
// pg pool on a real primary + 2 replicas, for every router and every hard SQL case.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import pg from 'pg';
import { byTable, createCluster, isDbRouterError, multiPrimary, primaryReplica, randomIncludingPrimary, type Cluster, type ClusterConfig, type Router } from '../../src/index.js';
import { createPgPool, type RoutedPgPool } from '../../src/engines/postgres/index.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';

const skip = await engineSkip('postgres');
const PORT = 'inet_server_port() AS port';

describe('routing on PostgreSQL', { skip }, () => {
  let local: LocalCluster;
  let portOf: Map<number, string>;
  const opened: { end(): Promise<void> }[] = [];
  // The clusters a test made: none may have misrouted (the safety net would hide a bad route).
  let made: Cluster[] = [];

  function config(extra: Partial<ClusterConfig> = {}): ClusterConfig {
    const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role }]));
    // Routing alone: read-your-writes (the consistency layer, tested on its own) is off here.
    return { databases, consistency: 'eventual', ...extra };
  }
  function routed(extra: Partial<ClusterConfig> = {}): { cluster: Cluster; pool: RoutedPgPool } {
    const cluster = createCluster(config(extra));
    made.push(cluster);
    const pool = createPgPool(cluster);
    opened.push(pool);
    return { cluster, pool };
  }
  async function where(p: Promise<pg.QueryResult>): Promise<string> {
    const r = await p;
    const port = Number((r.rows[0] as { port: number }).port);
    const alias = portOf.get(port);
    assert.ok(alias, `port ${port} is no node`);
    return alias;
  }

  before(async () => {
    local = await sharedCluster('postgres');
    portOf = new Map(Object.entries(local.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));
    const admin = new pg.Client(local.databases.default!.url);
    await admin.connect();
    await admin.query(`
      DROP TABLE IF EXISTS rt_pg_items, rt_pg_report, rt_pg_where, rt_pg_into; DROP SEQUENCE IF EXISTS rt_pg_seq;
      CREATE TABLE rt_pg_items (id serial PRIMARY KEY, v text);
      CREATE TABLE rt_pg_where (tag text, port int);
      CREATE OR REPLACE FUNCTION rt_pg_port_fn() RETURNS int LANGUAGE sql AS 'SELECT inet_server_port()';
      CREATE TABLE rt_pg_report (id int);
      CREATE SEQUENCE rt_pg_seq;
      INSERT INTO rt_pg_items (v) VALUES ('seed');`);
    await admin.end();
    await local.waitForAllReplicas();
  });
  after(async () => {
    await Promise.all(opened.map((p) => p.end()));
  });
  beforeEach(() => {
    made = [];
  });
  afterEach(() => {
    for (const c of made) assert.equal(c.stats().misroutes, 0, `a statement was misrouted: ${JSON.stringify(c.stats().byAlias)}`);
  });

  test('reads go to replicas, writes to the primary (pool.query)', async () => {
    const { pool } = routed();
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add(await where(pool.query(`SELECT ${PORT}`)));
    assert.deepEqual([...seen].sort(), ['replica1', 'replica2']);
    assert.equal(await where(pool.query(`INSERT INTO rt_pg_items (v) VALUES ($1) RETURNING ${PORT}`, ['w'])), 'default');
    assert.equal(await where(pool.query(`UPDATE rt_pg_items SET v = v WHERE id = 1 RETURNING ${PORT}`)), 'default');
  });

  test('hard cases go to the primary: write CTE, FOR UPDATE, nextval, advisory lock', async () => {
    const { pool } = routed();
    assert.equal(await where(pool.query(`WITH i AS (INSERT INTO rt_pg_items (v) VALUES ('cte') RETURNING id) SELECT ${PORT}, (SELECT count(*) FROM i) AS n`)), 'default');
    assert.equal(await where(pool.query(`SELECT ${PORT} FROM rt_pg_items WHERE id = 1 FOR UPDATE`)), 'default');
    assert.equal(await where(pool.query(`SELECT ${PORT} FROM rt_pg_items WHERE id = 1 FOR SHARE`)), 'default');
    assert.equal(await where(pool.query(`SELECT ${PORT}, nextval('rt_pg_seq') AS n`)), 'default');
    const c = await pool.connect();
    try {
      assert.equal(await where(c.query(`SELECT ${PORT}, pg_advisory_lock(4242)`)), 'default');
      assert.equal(await where(c.query(`SELECT ${PORT}`)), 'default', 'the client stays where its lock is');
      await c.query('SELECT pg_advisory_unlock(4242)');
      const n = await c.query<{ n: string }>("SELECT nextval('rt_pg_seq') AS n");
      const cur = await c.query<{ n: string; port: number }>(`SELECT currval('rt_pg_seq') AS n, ${PORT}`);
      assert.equal(cur.rows[0]!.n, n.rows[0]!.n, 'currval on the same session as its nextval');
      assert.equal(portOf.get(Number(cur.rows[0]!.port)), 'default');
    } finally {
      c.release();
    }
  });

  // Each statement returns the port of the server that ran it; `on` is where it must run. The
  // per-case misroute count proves a primary result is the router's choice, not the safety net's.
  const hardCases: { name: string; sql: string; on: 'primary' | 'replica' }[] = [
    { name: 'FOR NO KEY UPDATE', sql: `SELECT ${PORT} FROM rt_pg_items WHERE id = 1 FOR NO KEY UPDATE`, on: 'primary' },
    { name: 'FOR KEY SHARE', sql: `SELECT ${PORT} FROM rt_pg_items WHERE id = 1 FOR KEY SHARE`, on: 'primary' },
    { name: 'setval', sql: `SELECT ${PORT}, setval('rt_pg_seq', 100) AS n`, on: 'primary' },
    { name: 'a write word in a string', sql: `SELECT ${PORT}, 'x; delete from rt_pg_items' AS s`, on: 'replica' },
    { name: 'a write word in a dollar-quoted string', sql: `SELECT ${PORT}, $$ insert into rt_pg_items values (9) $$ AS s`, on: 'replica' },
    { name: 'a write word in a dollar-quoted string with a tag', sql: `SELECT ${PORT}, $q$ ; update rt_pg_items set v = '' $q$ AS s`, on: 'replica' },
    { name: 'a -- comment', sql: `SELECT ${PORT} -- update rt_pg_items set v = ''`, on: 'replica' },
    { name: 'a /* */ comment', sql: `SELECT /* delete from rt_pg_items */ ${PORT}`, on: 'replica' },
    { name: 'a nested /* */ comment', sql: `SELECT /* a /* nested */ ; insert into rt_pg_items */ ${PORT}`, on: 'replica' },
  ];
  for (const c of hardCases) {
    test(`hard case through the pool: ${c.name} runs on the ${c.on}`, async () => {
      const { cluster, pool } = routed();
      const ran = await where(pool.query(c.sql));
      if (c.on === 'primary') assert.equal(ran, 'default', c.sql);
      else assert.match(ran, /^replica/, c.sql);
      assert.equal(cluster.stats().misroutes, 0, `${c.sql} was misrouted`);
    });
  }

  test('hard cases that leave no row to ask: SELECT ... INTO and EXPLAIN ANALYZE INSERT run on the primary', async () => {
    const { pool } = routed();
    // The statement itself records the port of the server that ran it.
    await pool.query('SELECT inet_server_port() AS port INTO rt_pg_into');
    await pool.query("EXPLAIN ANALYZE INSERT INTO rt_pg_where VALUES ('explain', inet_server_port())");
    const admin = new pg.Client(local.databases.default!.url);
    await admin.connect();
    try {
      const into = await admin.query<{ port: number }>('SELECT port FROM rt_pg_into');
      assert.equal(portOf.get(into.rows[0]!.port), 'default');
      const explained = await admin.query<{ port: number }>("SELECT port FROM rt_pg_where WHERE tag = 'explain'");
      assert.deepEqual(explained.rows.map((r) => portOf.get(r.port)), ['default']);
    } finally {
      await admin.end();
    }
  });

  test('lastval after a nextval on the same checked-out client runs on the primary and sees it', async () => {
    const { pool } = routed();
    const c = await pool.connect();
    try {
      const n = await c.query<{ n: string }>("SELECT nextval('rt_pg_seq') AS n");
      const last = await c.query<{ n: string; port: number }>(`SELECT lastval() AS n, ${PORT}`);
      assert.equal(last.rows[0]!.n, n.rows[0]!.n);
      assert.equal(portOf.get(last.rows[0]!.port), 'default');
    } finally {
      c.release();
    }
    // On a fresh pool, lastval() alone is a session function: the primary (where, with no nextval
    // in that session, the server says so), never a replica.
    const fresh = routed({ debug: true });
    await assert.rejects(fresh.pool.query('SELECT lastval()'), /lastval is not yet defined/);
    assert.equal(fresh.cluster.queries.at(-1)!.alias, 'default');
  });

  test('writeFunctions: a user function named there runs on the primary; unnamed, on a replica', async () => {
    const plain = routed();
    assert.match(await where(plain.pool.query('SELECT rt_pg_port_fn() AS port')), /^replica/);
    const named = routed({ writeFunctions: ['rt_pg_port_fn'] });
    assert.equal(await where(named.pool.query('SELECT rt_pg_port_fn() AS port')), 'default');
    assert.equal(await where(named.pool.query('SELECT public.rt_pg_port_fn() AS port')), 'default');
  });

  // Issue 10: a plain setting is session set-up, replayed where the client reads (docs/orms.md).
  test('SET keeps a client on replicas with the setting in force; temporary tables pin it to the primary', async () => {
    const { pool } = routed();
    const c = await pool.connect();
    try {
      assert.match(await where(c.query(`SELECT ${PORT}`)), /^replica/);
      await c.query("SET application_name = 'rt-pg'");
      const r = await c.query<{ port: number; app: string }>(`SELECT ${PORT}, current_setting('application_name') AS app`);
      assert.match(portOf.get(r.rows[0]!.port)!, /^replica/);
      assert.equal(r.rows[0]!.app, 'rt-pg');
      await c.query('CREATE TEMP TABLE rt_pg_tmp (a int)');
      assert.equal(c.boundAlias, 'default');
      await c.query('INSERT INTO rt_pg_tmp VALUES (1)');
      const t = await c.query<{ n: string }>('SELECT count(*) AS n FROM rt_pg_tmp');
      assert.equal(t.rows[0]!.n, '1');
    } finally {
      c.release();
    }
  });

  test('LISTEN binds a client to the primary and its notifications reach the routed client', async () => {
    const { pool } = routed();
    const c = await pool.connect();
    try {
      const got = new Promise<{ channel: string; payload?: string }>((resolve) => c.once('notification', resolve));
      await c.query('LISTEN rt_pg_channel');
      assert.equal(c.boundAlias, 'default');
      await pool.query("NOTIFY rt_pg_channel, 'hello'");
      const n = await got;
      assert.deepEqual([n.channel, n.payload], ['rt_pg_channel', 'hello']);
      await c.query('UNLISTEN *');
    } finally {
      c.release();
    }
  });

  test('multi-statement text goes to the primary', async () => {
    const { pool } = routed();
    const r = (await pool.query(`SELECT 1; SELECT ${PORT}`)) as unknown as pg.QueryResult[];
    assert.equal(portOf.get(Number(r[1]!.rows[0].port)), 'default');
  });

  test('BEGIN goes to the primary; BEGIN READ ONLY runs the whole transaction on one replica', async () => {
    const { pool } = routed();
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      assert.equal(await where(c.query(`SELECT ${PORT}`)), 'default');
      await c.query('COMMIT');
    } finally {
      c.release();
    }
    const r = await pool.connect();
    try {
      await r.query('BEGIN READ ONLY');
      const first = await where(r.query(`SELECT ${PORT}`));
      assert.match(first, /^replica/);
      for (let i = 0; i < 5; i++) assert.equal(await where(r.query(`SELECT ${PORT}`)), first);
      await r.query('COMMIT');
    } finally {
      r.release();
    }
  });

  test('with replay paused, a write is visible through primary-routed reads and not through replica reads', async () => {
    const { cluster, pool } = routed();
    await local.pause('replica1');
    await local.pause('replica2');
    try {
      const marker = `paused-${Date.now()}`;
      await pool.query('INSERT INTO rt_pg_items (v) VALUES ($1)', [marker]);
      const count = async (p: Promise<pg.QueryResult>) => Number((await p).rows[0].n);
      assert.equal(await count(pool.query('SELECT count(*) AS n FROM rt_pg_items WHERE v = $1', [marker])), 0, 'a replica has not replayed it');
      assert.equal(await count(cluster.primary(() => pool.query('SELECT count(*) AS n FROM rt_pg_items WHERE v = $1', [marker]))), 1);
      const c = await pool.connect();
      try {
        await c.query('INSERT INTO rt_pg_items (v) VALUES ($1)', [`${marker}-2`]);
        assert.equal(await count(c.query('SELECT count(*) AS n FROM rt_pg_items WHERE v LIKE $1', [`${marker}%`])), 2, 'the client reads its own writes');
      } finally {
        c.release();
      }
    } finally {
      await local.resume('replica1');
      await local.resume('replica2');
    }
    await local.waitForAllReplicas();
  });

  test('safety net: a write sent to a replica (25006) is re-run on the primary; the caller sees the result', async () => {
    const toReplica: Router = { name: 'wrongWrites', dbForWrite: () => 'replica1' };
    const { cluster, pool } = routed({ routers: [toReplica, primaryReplica()], debug: true });
    assert.equal(await where(pool.query(`INSERT INTO rt_pg_items (v) VALUES ('net') RETURNING ${PORT}`)), 'default');
    assert.equal(cluster.stats().misroutes, 1);
    assert.equal(cluster.queries.at(-1)!.misroute, true);
    cluster.resetStats(); // the one expected misroute; nothing else here may misroute
    // Inside a transaction the net does not apply: the error reaches the caller.
    const c = await pool.connect();
    try {
      await c.query('BEGIN READ ONLY');
      await assert.rejects(c.query("INSERT INTO rt_pg_items (v) VALUES ('ro')"), (e: Error & { code?: string }) => e.code === '25006');
      await c.query('ROLLBACK');
    } finally {
      c.release();
    }
  });

  test('SQL that does not parse goes to the primary; the server error is the same as the raw driver\'s', async () => {
    const { pool, cluster } = routed({ debug: true });
    const raw = new pg.Pool({ connectionString: local.databases.default!.url });
    const bad = 'SELEC port FROM nowhere';
    const rawErr = await raw.query(bad).then(() => undefined, (e: unknown) => e as pg.DatabaseError);
    const ourErr = await pool.query(bad).then(() => undefined, (e: unknown) => e as pg.DatabaseError);
    await raw.end();
    assert.ok(rawErr && ourErr);
    assert.equal(ourErr.constructor, rawErr.constructor);
    assert.equal(ourErr.code, rawErr.code);
    assert.equal(ourErr.message, rawErr.message);
    assert.equal(cluster.queries.at(-1)!.alias, 'default');
  });

  test('each router: round-robin, randomIncludingPrimary, multiPrimary, byTable, using()', async () => {
    const rr = routed({ routers: [primaryReplica({ strategy: 'round-robin' })] }).pool;
    const a = await where(rr.query(`SELECT ${PORT}`));
    const b = await where(rr.query(`SELECT ${PORT}`));
    assert.notEqual(a, b);
    const any = routed({ routers: [randomIncludingPrimary()] }).pool;
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) seen.add(await where(any.query(`SELECT ${PORT}`)));
    assert.deepEqual([...seen].sort(), ['default', 'replica1', 'replica2']);
    const mp = routed({ routers: [multiPrimary()] }).pool;
    assert.equal(await where(mp.query(`INSERT INTO rt_pg_items (v) VALUES ('mp') RETURNING ${PORT}`)), 'default');
    const bt = routed({ routers: [byTable({ rt_pg_report: 'replica2' }), primaryReplica()] });
    for (let i = 0; i < 5; i++) assert.equal(await where(bt.pool.query(`SELECT ${PORT} FROM (SELECT 1) x LEFT JOIN rt_pg_report r ON false`)), 'replica2');
    await assert.rejects(bt.pool.query('SELECT * FROM rt_pg_report JOIN rt_pg_items ON true'), (e) => isDbRouterError(e, 'CROSS_DATABASE_RELATION'));
    assert.equal(await bt.cluster.using('replica1', () => where(bt.pool.query(`SELECT ${PORT}`))), 'replica1');
    assert.equal(await bt.cluster.replica(() => where(bt.pool.query(`INSERT INTO rt_pg_items (v) VALUES ('r') RETURNING ${PORT}`))), 'default');
  });

  test('roles left out are asked of the servers; migrate() runs once on the primary', async () => {
    const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, d.url]));
    const cluster = createCluster({ databases, consistency: 'eventual' });
    made.push(cluster);
    await cluster.ready();
    assert.deepEqual(cluster.describe().map((d) => d.role), Object.values(local.databases).map((d) => d.role));
    const pool = createPgPool(cluster);
    opened.push(pool);
    assert.match(await where(pool.query(`SELECT ${PORT}`)), /^replica/);
    const ran = await cluster.migrate(async ({ pool: p }) => where((p as RoutedPgPool).query(`SELECT ${PORT}`)));
    assert.deepEqual(ran, { default: 'default' });
  });
});
