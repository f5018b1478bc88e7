// Where each statement ran, asked of the server itself (@@port), through the routed mysql2 pool
// on a real MariaDB primary + 2 read_only replicas (the app user is not an admin, so a replica
// really refuses writes with errno 1290).
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import { byTable, createCluster, isDbRouterError, multiPrimary, primaryReplica, randomIncludingPrimary, type Cluster, type ClusterConfig, type Router } from '../../src/index.js';
import { createMysqlPool, type RoutedMysqlPool } from '../../src/engines/mysql/index.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';

const skip = await engineSkip('mariadb');
const PORT = '@@port AS port';
type Rows = { port: number; [k: string]: unknown }[];

describe('routing on MariaDB', { skip }, () => {
  let local: LocalCluster;
  let portOf: Map<number, string>;
  const opened: { end(): Promise<void> }[] = [];
  // The clusters a test made: none may have misrouted (the safety net would hide a bad route).
  let made: Cluster[] = [];

  function config(extra: Partial<ClusterConfig> = {}): ClusterConfig {
    const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role, driverOptions: { multipleStatements: true } }]));
    // Routing alone: read-your-writes (the consistency layer, tested on its own) is off here.
    return { databases, consistency: 'eventual', ...extra };
  }
  function routed(extra: Partial<ClusterConfig> = {}): { cluster: Cluster; pool: RoutedMysqlPool } {
    const cluster = createCluster(config(extra));
    made.push(cluster);
    const pool = createMysqlPool(cluster);
    opened.push(pool);
    return { cluster, pool };
  }
  async function where(p: Promise<[unknown, unknown]>): Promise<string> {
    const [rows] = await p;
    const port = Number((rows as Rows)[0]!.port);
    const alias = portOf.get(port);
    assert.ok(alias, `port ${port} is no node`);
    return alias;
  }

  before(async () => {
    local = await sharedCluster('mariadb');
    portOf = new Map(Object.entries(local.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));
    const admin = await mysql.createConnection({ uri: local.databases.default!.url, multipleStatements: true });
    await admin.query(`
      DROP TABLE IF EXISTS rt_my_items; DROP TABLE IF EXISTS rt_my_report; DROP SEQUENCE IF EXISTS rt_my_seq;
      CREATE TABLE rt_my_items (id int AUTO_INCREMENT PRIMARY KEY, v varchar(100)) ENGINE=InnoDB;
      CREATE TABLE rt_my_report (id int);
      CREATE SEQUENCE rt_my_seq;
      INSERT INTO rt_my_items (v) VALUES ('seed');`);
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

  test('reads go to replicas, writes to the primary (query and execute)', async () => {
    const { pool } = routed();
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add(await where(pool.query(`SELECT ${PORT}`)));
    assert.deepEqual([...seen].sort(), ['replica1', 'replica2']);
    assert.match(await where(pool.execute(`SELECT ${PORT} FROM rt_my_items WHERE id = ?`, [1])), /^replica/);
    const [ok] = await pool.execute('INSERT INTO rt_my_items (v) VALUES (?)', ['w']);
    assert.ok((ok as { insertId: number }).insertId > 0);
  });

  test('hard cases go to the primary: FOR UPDATE, LOCK IN SHARE MODE, NEXTVAL, LAST_INSERT_ID, GET_LOCK', async () => {
    const { pool } = routed();
    assert.equal(await where(pool.query(`SELECT ${PORT} FROM rt_my_items WHERE id = 1 FOR UPDATE`)), 'default');
    assert.equal(await where(pool.query(`SELECT ${PORT} FROM rt_my_items WHERE id = 1 LOCK IN SHARE MODE`)), 'default');
    assert.equal(await where(pool.query(`SELECT ${PORT}, NEXTVAL(rt_my_seq) AS n`)), 'default');
    const c = await pool.getConnection();
    try {
      const [ins] = await c.query("INSERT INTO rt_my_items (v) VALUES ('lid')");
      const [rows] = await c.query(`SELECT ${PORT}, LAST_INSERT_ID() AS id`);
      assert.equal(portOf.get(Number((rows as Rows)[0]!.port)), 'default');
      assert.equal(Number((rows as Rows)[0]!.id), (ins as { insertId: number }).insertId, 'LAST_INSERT_ID on the same connection');
    } finally {
      c.release();
    }
    const l = await pool.getConnection();
    try {
      assert.equal(await where(l.query(`SELECT ${PORT}, GET_LOCK('rt_my_lock', 1) AS got`)), 'default');
      assert.equal(await where(l.query(`SELECT ${PORT}, RELEASE_LOCK('rt_my_lock') AS r`)), 'default');
    } finally {
      l.release();
    }
  });

  // Each statement returns the port of the server that ran it; `on` is where it must run. The
  // per-case misroute count proves a primary result is the router's choice, not the safety net's.
  const hardCases: { name: string; sql: string; on: 'primary' | 'replica' }[] = [
    { name: 'an executable comment /*! FOR UPDATE */', sql: `SELECT ${PORT} FROM rt_my_items WHERE id = 1 /*! FOR UPDATE */`, on: 'primary' },
    { name: 'a versioned executable comment /*!50000 LOCK IN SHARE MODE */', sql: `SELECT ${PORT} FROM rt_my_items WHERE id = 1 /*!50000 LOCK IN SHARE MODE */`, on: 'primary' },
    { name: 'a # comment', sql: `SELECT ${PORT} # delete from rt_my_items`, on: 'replica' },
    { name: 'a -- comment', sql: `SELECT ${PORT} -- update rt_my_items set v = ''`, on: 'replica' },
    { name: 'a backslash-escaped quote, then a write word in the string', sql: `SELECT ${PORT}, 'it\\'s; delete from rt_my_items' AS s`, on: 'replica' },
    { name: 'NEXT VALUE FOR', sql: `SELECT ${PORT}, NEXT VALUE FOR rt_my_seq AS n`, on: 'primary' },
    { name: 'FOUND_ROWS()', sql: `SELECT ${PORT}, FOUND_ROWS() AS n`, on: 'primary' },
    { name: 'ROW_COUNT()', sql: `SELECT ${PORT}, ROW_COUNT() AS n`, on: 'primary' },
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

  test('USE pins a checked-out connection to the primary', async () => {
    const { pool } = routed();
    const c = await pool.getConnection();
    try {
      assert.match(await where(c.query(`SELECT ${PORT}`)), /^replica/);
      await c.query('USE app');
      for (let i = 0; i < 3; i++) assert.equal(await where(c.query(`SELECT ${PORT}, DATABASE() AS db`)), 'default');
    } finally {
      c.release();
    }
  });

  test('PREPARE and EXECUTE run on the primary, on the same session', async () => {
    const { pool } = routed();
    const c = await pool.getConnection();
    try {
      await c.query(`PREPARE rt_my_stmt FROM 'SELECT ${PORT}'`);
      assert.equal(await where(c.query('EXECUTE rt_my_stmt')), 'default');
      await c.query('DEALLOCATE PREPARE rt_my_stmt');
    } finally {
      c.release();
    }
    // EXECUTE alone is not a read: on a fresh pool it goes to the primary (where, in a session that
    // prepared nothing, the server says so), never to a replica.
    const fresh = routed({ debug: true });
    await assert.rejects(fresh.pool.query('EXECUTE rt_my_nothing'), (e: Error & { errno?: number }) => e.errno === 1243);
    assert.equal(fresh.cluster.queries.at(-1)!.alias, 'default');
  });

  test('SET and temporary tables pin a connection to the primary; multi-statement goes to the primary', async () => {
    const { pool } = routed();
    const c = await pool.getConnection();
    try {
      assert.match(await where(c.query(`SELECT ${PORT}`)), /^replica/);
      await c.query("SET @rt_marker = 'x'");
      const [rows] = await c.query(`SELECT ${PORT}, @rt_marker AS m`);
      assert.equal(portOf.get(Number((rows as Rows)[0]!.port)), 'default');
      assert.equal((rows as Rows)[0]!.m, 'x');
      await c.query('CREATE TEMPORARY TABLE rt_my_tmp (a int)');
      await c.query('INSERT INTO rt_my_tmp VALUES (1)');
      const [t] = await c.query('SELECT count(*) AS n FROM rt_my_tmp');
      assert.equal(Number((t as Rows)[0]!.n), 1);
    } finally {
      c.release();
    }
    const [multi] = await pool.query(`SELECT 1; SELECT ${PORT}`);
    assert.equal(portOf.get(Number(((multi as Rows[])[1]!)[0]!.port)), 'default');
  });

  test('beginTransaction goes to the primary; START TRANSACTION READ ONLY stays on one replica', async () => {
    const { pool } = routed();
    const c = await pool.getConnection();
    try {
      await c.beginTransaction();
      assert.equal(await where(c.query(`SELECT ${PORT}`)), 'default');
      await c.commit();
    } finally {
      c.release();
    }
    const r = await pool.getConnection();
    try {
      await r.query('START TRANSACTION READ ONLY');
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
      await pool.query('INSERT INTO rt_my_items (v) VALUES (?)', [marker]);
      const count = async (p: Promise<[unknown, unknown]>) => Number(((await p)[0] as { n: number }[])[0]!.n);
      assert.equal(await count(pool.query('SELECT count(*) AS n FROM rt_my_items WHERE v = ?', [marker])), 0);
      assert.equal(await count(cluster.primary(() => pool.query('SELECT count(*) AS n FROM rt_my_items WHERE v = ?', [marker]))), 1);
      const c = await pool.getConnection();
      try {
        await c.query('INSERT INTO rt_my_items (v) VALUES (?)', [`${marker}-2`]);
        assert.equal(await count(c.query('SELECT count(*) AS n FROM rt_my_items WHERE v LIKE ?', [`${marker}%`])), 2);
      } finally {
        c.release();
      }
    } finally {
      await local.resume('replica1');
      await local.resume('replica2');
    }
    await local.waitForAllReplicas();
  });

  test('safety net: a write sent to a read_only replica (errno 1290) is re-run on the primary', async () => {
    const toReplica: Router = { name: 'wrongWrites', dbForWrite: () => 'replica1' };
    const { cluster, pool } = routed({ routers: [toReplica, primaryReplica()], debug: true });
    const [ok] = await pool.query("INSERT INTO rt_my_items (v) VALUES ('net')");
    assert.ok((ok as { insertId: number }).insertId > 0);
    assert.equal(cluster.stats().misroutes, 1);
    assert.equal(cluster.queries.at(-1)!.alias, 'default');
    assert.equal(cluster.queries.at(-1)!.misroute, true);
    cluster.resetStats(); // the one expected misroute; nothing else here may misroute
  });

  test("SQL that does not parse goes to the primary; the server error is the same as the raw driver's", async () => {
    const { pool, cluster } = routed({ debug: true });
    const raw = mysql.createPool({ uri: local.databases.default!.url });
    const bad = 'SELEC port FROM nowhere';
    const rawErr = await raw.query(bad).then(() => undefined, (e: unknown) => e as Error & { errno: number; code: string });
    const ourErr = await pool.query(bad).then(() => undefined, (e: unknown) => e as Error & { errno: number; code: string });
    await raw.end();
    assert.ok(rawErr && ourErr);
    assert.equal(ourErr.errno, rawErr.errno);
    assert.equal(ourErr.code, rawErr.code);
    assert.equal(ourErr.message, rawErr.message);
    assert.equal(cluster.queries.at(-1)!.alias, 'default');
  });

  test('each router: round-robin, randomIncludingPrimary, multiPrimary, byTable, using()', async () => {
    const rr = routed({ routers: [primaryReplica({ strategy: 'round-robin' })] }).pool;
    assert.notEqual(await where(rr.query(`SELECT ${PORT}`)), await where(rr.query(`SELECT ${PORT}`)));
    const any = routed({ routers: [randomIncludingPrimary()] }).pool;
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) seen.add(await where(any.query(`SELECT ${PORT}`)));
    assert.deepEqual([...seen].sort(), ['default', 'replica1', 'replica2']);
    const mp = routed({ routers: [multiPrimary()] }).pool;
    const [ins] = await mp.query("INSERT INTO rt_my_items (v) VALUES ('mp')");
    assert.ok((ins as { insertId: number }).insertId > 0);
    const bt = routed({ routers: [byTable({ rt_my_report: 'replica2' }), primaryReplica()] });
    for (let i = 0; i < 5; i++) assert.equal(await where(bt.pool.query(`SELECT ${PORT} FROM rt_my_report RIGHT JOIN (SELECT 1) x ON false`)), 'replica2');
    await assert.rejects(bt.pool.query('SELECT * FROM rt_my_report JOIN rt_my_items ON true'), (e) => isDbRouterError(e, 'CROSS_DATABASE_RELATION'));
    assert.equal(await bt.cluster.using('replica1', () => where(bt.pool.query(`SELECT ${PORT}`))), 'replica1');
  });

  test('weighted and least-busy replica choice on real replicas', async () => {
    const weighted = routed({
      databases: Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role, weight: alias === 'replica1' ? 3 : 1 }])),
      routers: [primaryReplica({ strategy: 'weighted' })],
    }).pool;
    const count: Record<string, number> = {};
    for (let i = 0; i < 400; i++) {
      const alias = await where(weighted.query(`SELECT ${PORT}`));
      count[alias] = (count[alias] ?? 0) + 1;
    }
    assert.equal(count.default, undefined, 'no read on the primary');
    const share = count.replica1! / 400;
    assert.ok(share > 0.65 && share < 0.85, `replica1 (weight 3 of 4) served ${Math.round(share * 100)} % of reads`);
    // least-busy: while a slow read holds replica1, the next reads go to the idle replica2.
    const lb = routed({ routers: [primaryReplica({ strategy: 'least-busy' })] }).pool;
    const slow = lb.query(`SELECT SLEEP(0.5) AS s, ${PORT}`);
    const during: string[] = [];
    for (let i = 0; i < 5; i++) during.push(await where(lb.query(`SELECT ${PORT}`)));
    const slowOn = await where(slow);
    assert.ok(during.every((a) => a !== slowOn && a !== 'default'), `reads during the slow one (on ${slowOn}) went to ${during.join(', ')}`);
  });

  test('migrate() runs once on the primary (MariaDB)', async () => {
    const { cluster } = routed();
    assert.deepEqual(await cluster.migrationTargets(), ['default']);
    const ran = await cluster.migrate(async ({ pool: p }) => where((p as RoutedMysqlPool).query(`SELECT ${PORT}`)));
    assert.deepEqual(ran, { default: 'default' });
  });

  test('roles left out are asked of the servers (@@read_only)', async () => {
    const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, d.url]));
    const cluster = createCluster({ databases, consistency: 'eventual' });
    made.push(cluster);
    await cluster.ready();
    assert.deepEqual(cluster.describe().map((d) => d.role), Object.values(local.databases).map((d) => d.role));
    const pool = createMysqlPool(cluster);
    opened.push(pool);
    assert.match(await where(pool.query(`SELECT ${PORT}`)), /^replica/);
  });
});
