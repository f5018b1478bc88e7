// mysql2's own API through the routed pool on real MariaDB replicas (issue 10): the callback forms
// return mysql2's Query (events, setMaxListeners, .stream()); streams run on a replica that has
// replayed the unit of work's position, a streamed write on the primary; the connection is held
// for the stream's life and given back on end, error and an early stop. Each node's pool has one
// connection, so a leaked one would make the next statement on that node wait forever (bounded
// here by `within`).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { createCluster, type Cluster } from '../../src/index.js';
import { createRequire } from 'node:module';
import { createMysqlPool, mysqlDriver, type RoutedMysqlPool } from '../../src/engines/mysql/index.js';
import { isDbRouterError } from '../../src/errors.js';
import { createMariadbPool } from '../../src/engines/mysql/mariadb-connector.js';
import { CORE_POOL_CONNECTION, PROMISE_POOL_CONNECTION } from '../unit/mysql2-typed-members.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';

const TABLE = 'rt_fid_items';
const require = createRequire(import.meta.url);
const mysql = require('mysql2') as typeof import('mysql2');
const mysqlPromise = require('mysql2/promise') as typeof import('mysql2/promise');

async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms (a connection leaked?)`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe('mysql2 driver fidelity through the routed pool', { skip: await engineSkip('mariadb') }, () => {
  let local: LocalCluster;
  let cluster: Cluster;
  let pool: RoutedMysqlPool;
  let portOf: Map<number, string>;

  before(async () => {
    local = await sharedCluster('mariadb');
    portOf = new Map(Object.entries(local.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));
    // One connection per node: a connection not given back blocks the next statement on that node.
    const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role, pool: { max: 1 } }]));
    cluster = createCluster({ databases, debug: true });
    pool = createMysqlPool(cluster);
    await pool.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await pool.query(`CREATE TABLE ${TABLE} (id int AUTO_INCREMENT PRIMARY KEY, v varchar(100))`);
    await pool.query(`INSERT INTO ${TABLE} (v) SELECT CONCAT('r', seq) FROM seq_1_to_200`);
    await local.waitForAllReplicas();
  });
  after(async () => {
    await pool?.end();
    await cluster?.end();
  });
  // Read-your-writes is on (the default): with the replicas caught up, reads go to them.
  beforeEach(async () => {
    await local.waitForAllReplicas();
    cluster.resetStats();
  });
  afterEach(() => assert.equal(cluster.stats().misroutes, 0));

  test('the callback form returns a Query: setMaxListeners, fields/result/end events, and the callback (Sequelize)', async () => {
    const events: string[] = [];
    const done = new Promise<{ rows: unknown }>((resolve, reject) => {
      const q = pool.query(`INSERT INTO ${TABLE} (v) VALUES (?)`, ['cb'], (err, rows) => (err ? reject(err) : resolve({ rows })));
      assert.equal(q.setMaxListeners(100), q);
      q.on('result', () => events.push('result')).on('end', () => events.push('end'));
    });
    const { rows } = await done;
    assert.equal((rows as { affectedRows: number }).affectedRows, 1);
    await once(pool.pool.query('SELECT 1'), 'end');
    assert.deepEqual(events.slice(0, 2), ['result', 'end']);
    assert.equal(cluster.queries[0]!.alias, 'default');
  });

  test('pool.pool.query().stream() reads on a replica, row by row; the connection goes back at the end', async () => {
    const rows: { v: string; port: number }[] = [];
    for await (const row of pool.pool.query(`SELECT v, @@port AS port FROM ${TABLE} WHERE v LIKE 'r%' ORDER BY id`).stream({ highWaterMark: 4 })) rows.push(row as { v: string; port: number });
    assert.equal(rows.length, 200);
    assert.match(portOf.get(Number(rows[0]!.port))!, /^replica/);
    // Every node's only connection is free again: one statement on each answers.
    for (const alias of Object.keys(local.databases)) await within(5000, cluster.using(alias, () => pool.query('SELECT 1')), alias);
  });

  test('a stream stopped early gives its connection back (destroyed: rows were still on the wire)', async () => {
    for (let i = 0; i < 4; i++) {
      // A million rows: most are still on the wire (or unsent) when the loop stops. Each round is
      // bounded: with a leaked connection, the next stream on that replica waits for it.
      await within(10_000, (async () => {
        let seen = 0;
        for await (const row of pool.pool.query('SELECT seq, @@port AS port FROM seq_1_to_1000000').stream({ highWaterMark: 1 })) {
          assert.match(portOf.get(Number((row as { port: number }).port))!, /^replica/);
          if (++seen === 3) break;
        }
      })(), `stream round ${i}`);
    }
    for (const alias of ['replica1', 'replica2']) await within(5000, cluster.using(alias, () => pool.query('SELECT 1')), alias);
  });

  test('a failing stream errors and gives its connection back', async () => {
    const stream = pool.pool.query('SELECT * FROM rt_fid_no_such_table').stream();
    await assert.rejects(async () => {
      for await (const row of stream) void row;
    }, /doesn't exist/);
    for (const alias of ['replica1', 'replica2']) await within(5000, cluster.using(alias, () => pool.query('SELECT 1')), alias);
  });

  test('a streamed write runs on the primary; a streamed read after it with replicas paused sees it (read-your-writes)', async () => {
    await local.pause('replica1');
    await local.pause('replica2');
    try {
      {
        const marker = `sw-${Date.now()}`;
        const ends: unknown[] = [];
        for await (const r of pool.pool.query(`INSERT INTO ${TABLE} (v) VALUES (?)`, [marker]).stream()) ends.push(r);
        assert.equal((ends[0] as { affectedRows: number }).affectedRows, 1);
        assert.equal(cluster.queries.at(-1)!.alias, 'default');
        const seen: { port: number }[] = [];
        for await (const r of pool.pool.query(`SELECT @@port AS port FROM ${TABLE} WHERE v = ?`, [marker]).stream()) seen.push(r as { port: number });
        assert.equal(seen.length, 1, 'the read saw the write');
        assert.equal(portOf.get(Number(seen[0]!.port)), 'default', 'no replica has replayed it: the primary');
      }
    } finally {
      await local.resume('replica1');
      await local.resume('replica2');
    }
    await local.waitForAllReplicas();
  });

  test('a checked-out connection: a stream on a replica while free, on the primary inside a transaction; release() after an early stop', async () => {
    const conn = await pool.getConnection();
    try {
      const free: { port: number }[] = [];
      for await (const r of conn.query(`SELECT @@port AS port FROM ${TABLE} LIMIT 5`).stream()) free.push(r as { port: number });
      assert.match(portOf.get(Number(free[0]!.port))!, /^replica/);
      assert.equal(conn.boundAlias, undefined);
      await conn.beginTransaction();
      await conn.query(`INSERT INTO ${TABLE} (v) VALUES ('tx-stream')`);
      let n = 0;
      for await (const r of conn.connection.query(`SELECT @@port AS port, v FROM ${TABLE} ORDER BY id DESC`).stream({ highWaterMark: 1 })) {
        assert.equal(portOf.get(Number((r as { port: number }).port)), 'default');
        if (++n === 2) break;
      }
      // The transaction's connection was not destroyed by the early stop: it still sees its insert.
      const [rows] = await conn.query(`SELECT COUNT(*) AS n FROM ${TABLE} WHERE v = 'tx-stream'`);
      assert.equal(Number((rows as { n: number }[])[0]!.n), 1);
      await conn.rollback();
    } finally {
      conn.release();
    }
    await within(5000, cluster.using('default', () => pool.query('SELECT 1')), 'default');
  });

  test('promise(), connection, releaseConnection, escape/escapeId/format, config (the primary settings)', async () => {
    assert.equal(pool.promise(), pool);
    assert.equal(pool.pool.promise(), pool);
    const conn = await pool.getConnection();
    assert.equal(conn.connection, conn);
    assert.equal(conn.promise(), conn);
    const [[row]] = (await conn.promise().query('SELECT 1 AS one')) as [{ one: number }[], unknown];
    assert.equal(row!.one, 1);
    pool.releaseConnection(conn);
    assert.equal(pool.escapeId('a.b'), '`a`.`b`');
    assert.equal(pool.format('SELECT ? AS x, ?? AS y', [1, 'c']), 'SELECT 1 AS x, `c` AS y');
    assert.equal(pool.escape("it's"), "'it\\'s'");
    assert.equal(pool.pool.config.connectionConfig.port, Number(new URL(local.databases.default!.url).port));
  });

  test('execute (prepared statements) with a callback and as a stream', async () => {
    const [rows] = await new Promise<[unknown, unknown]>((resolve, reject) =>
      pool.execute(`SELECT @@port AS port, ? AS x`, [7], (err, r, f) => (err ? reject(err) : resolve([r, f]))),
    );
    assert.equal(Number((rows as { x: number }[])[0]!.x), 7);
    const streamed: unknown[] = [];
    for await (const r of pool.pool.execute(`SELECT v FROM ${TABLE} WHERE id <= ?`, [3]).stream()) streamed.push(r);
    assert.equal(streamed.length, 3);
  });

  // Issue 10: one routed connection answers both of mysql2's PoolConnection types, so a member one
  // of them lacks at run time is there for the other: `connection` (a core PoolConnection's is
  // undefined) and `state` (a promise PoolConnection's is undefined). Everything else is present
  // or undefined exactly as on mysql2's own connections, checked out here from a real server.
  test("a checked-out connection has every member mysql2's PoolConnection typings declare that mysql2's own connections have", async () => {
    const url = local.databases.default!.url;
    const core = mysql.createPool(url);
    const promised = mysqlPromise.createPool(url);
    const realCore = await new Promise<import('mysql2').PoolConnection>((resolve, reject) => core.getConnection((err, c) => (err ? reject(err) : resolve(c))));
    const realPromise = await promised.getConnection();
    const conn = await pool.getConnection();
    try {
      const absent = (o: object, n: string) => (o as Record<string, unknown>)[n] === undefined;
      const BOTH_FACES = new Set(['connection', 'state']);
      for (const [names, real] of [[CORE_POOL_CONNECTION, realCore], [PROMISE_POOL_CONNECTION, realPromise]] as const) {
        for (const n of names) {
          if (BOTH_FACES.has(n)) assert.ok(!absent(conn, n), n);
          else assert.equal(absent(conn, n), absent(real, n), n);
        }
      }
      // Each of those is on one of mysql2's connections and not on the other.
      for (const n of BOTH_FACES) assert.notEqual(absent(realCore, n), absent(realPromise, n), n);
    } finally {
      conn.release();
      realCore.release();
      realPromise.release();
      await promised.end();
      await new Promise<void>((resolve) => core.end(() => resolve()));
    }
  });

  test('prepare() on a checked-out connection binds it to the primary; its statements run there (promise and callback forms); unprepare', async () => {
    const conn = await pool.getConnection();
    try {
      const st = await within(5000, conn.prepare('SELECT @@port AS port, ? AS x'), 'prepare');
      assert.equal(conn.boundAlias, 'default');
      const [rows] = (await st.execute([7])) as [{ port: number; x: number }[], unknown];
      assert.equal(portOf.get(Number(rows[0]!.port)), 'default');
      assert.equal(Number(rows[0]!.x), 7);
      await st.close();
      const viaCallback = await within(5000, new Promise<{ port: number }[]>((resolve, reject) => {
        conn.prepare('SELECT @@port AS port', (err, statement) => {
          if (err) return reject(err);
          statement.execute([], (e, r) => (e ? reject(e) : resolve(r as { port: number }[])));
        });
      }), 'prepare(cb)');
      assert.equal(portOf.get(Number(viaCallback[0]!.port)), 'default');
      assert.equal(conn.unprepare('SELECT @@port AS port'), undefined);
      // The held connection's own thread, on the primary (what a `KILL QUERY` by id would reach).
      const [[me]] = (await conn.query('SELECT CONNECTION_ID() AS id')) as [{ id: number }[], unknown];
      assert.equal(conn.threadId, Number(me!.id));
    } finally {
      conn.release();
    }
    await within(5000, cluster.using('default', () => pool.query('SELECT 1')), 'default after release');
  });

  test('reset() on a held connection clears its session on the server; the connection is closed at release, not given back', async () => {
    const conn = await pool.getConnection();
    try {
      await conn.query('SET @fid_v = 5');
      assert.equal(conn.boundAlias, 'default');
      const [[before]] = (await conn.query('SELECT CONNECTION_ID() AS id, @fid_v AS v')) as [{ id: number; v: number | null }[], unknown];
      assert.equal(Number(before!.v), 5);
      await within(5000, conn.reset(), 'reset');
      const [[after]] = (await conn.query('SELECT CONNECTION_ID() AS id, @fid_v AS v')) as [{ id: number; v: number | null }[], unknown];
      assert.equal(after!.v, null, 'the user variable went with the reset');
      assert.equal(after!.id, before!.id, 'the same server session');
    } finally {
      conn.release();
    }
    // One connection per node: the reset one was closed, a new one answers.
    const [[next]] = (await within(5000, cluster.using('default', () => pool.query('SELECT @fid_v AS v')), 'default after release')) as [{ v: unknown }[], unknown];
    assert.equal(next!.v, null);
  });
  // mysql2 runs a connection's commands one at a time in the order issued; code that fires
  // statements without waiting (mysql2's own tests, old callback code) relies on it.
  test('a checked-out connection runs statements issued without waiting in order, on one session; release() right after lets them finish', async () => {
    const conn = await pool.getConnection();
    const done: string[] = [];
    const results = new Promise<unknown>((resolve, reject) => {
      const step = (name: string) => (err: Error | null, rows?: unknown) => {
        if (err) reject(err);
        done.push(name);
        if (name === 'select') resolve(rows);
      };
      conn.query('CREATE TEMPORARY TABLE fid_tmp (i int)', step('create'));
      conn.query('INSERT INTO fid_tmp VALUES (1), (2)', step('insert'));
      conn.query('SELECT i, @@port AS port FROM fid_tmp ORDER BY i', step('select'));
    });
    conn.release();
    // A statement issued after release() is refused, not queued.
    await assert.rejects(conn.query('SELECT 1'), (e: unknown) => isDbRouterError(e, 'CLIENT_RELEASED'));
    const rows = (await within(5000, results, 'queued statements')) as { i: number; port: number }[];
    assert.deepEqual(done, ['create', 'insert', 'select']);
    assert.deepEqual(rows.map((r) => r.i), [1, 2]);
    assert.equal(portOf.get(Number(rows[0]!.port)), 'default', 'the temporary table binds the connection to the primary');
    assert.deepEqual(cluster.queries.filter((q) => q.sql.includes('fid_tmp')).map((q) => q.alias), ['default', 'default', 'default']);
    // The one primary connection went back once they had run.
    await within(5000, cluster.using('default', () => pool.query('SELECT 1')), 'default after release');
  });

  test("a driver module's connection: reads issued without waiting run in order on replicas, end() waits for them and then calls back", async () => {
    const conn = mysqlDriver(cluster).createConnection({});
    const order: string[] = [];
    const ports: number[] = [];
    await within(5000, new Promise<void>((resolve, reject) => {
      for (const n of [1, 2, 3]) {
        conn.query(`SELECT @@port AS port, ${n} AS n`, (err, rows) => {
          if (err) return reject(err);
          const row = (rows as { port: number; n: number }[])[0]!;
          order.push(`q${row.n}`);
          ports.push(Number(row.port));
        });
      }
      conn.end((err) => (err ? reject(err) : (order.push('end'), resolve())));
    }), 'end');
    assert.deepEqual(order, ['q1', 'q2', 'q3', 'end']);
    for (const port of ports) assert.match(portOf.get(port)!, /^replica/);
    assert.equal(conn._closing, true);
  });

  test('a stream stopped early on a checked-out connection lets the next statement run', async () => {
    const conn = await pool.getConnection();
    try {
      const q = conn.query(`SELECT v FROM ${TABLE} ORDER BY id`);
      const next = conn.query('SELECT 2 AS two');
      for await (const row of q.stream({ highWaterMark: 1 })) {
        assert.ok(row);
        break;
      }
      const [rows] = await within(5000, next, 'the statement after the stopped stream');
      assert.deepEqual(rows, [{ two: 2 }]);
    } finally {
      conn.release();
    }
  });
  test("pool events: 'connection' with each new physical connection of any node (set-up run there applies on replicas), 'acquire'/'release' with it", async () => {
    const fresh = createMysqlPool(cluster);
    const connected: string[] = [];
    const counts = { acquire: 0, release: 0, callbackFace: 0 };
    fresh.on('connection', (c: { config: { port: number }; query(sql: string): unknown }) => {
      connected.push(portOf.get(c.config.port)!);
      c.query('SET @fid_conn = 7');
    });
    fresh.on('acquire', () => counts.acquire++);
    fresh.on('release', () => counts.release++);
    fresh.pool.on('connection', () => counts.callbackFace++);
    try {
      const [[read]] = (await fresh.query('SELECT @fid_conn AS v, @@port AS port')) as [{ v: number; port: number }[], unknown];
      assert.match(portOf.get(Number(read!.port))!, /^replica/);
      assert.equal(Number(read!.v), 7, "the 'connection' listener's statement ran first on that replica connection");
      const [[onPrimary]] = (await cluster.using('default', () => fresh.query('SELECT @fid_conn AS v'))) as [{ v: number }[], unknown];
      assert.equal(Number(onPrimary!.v), 7);
      assert.ok(connected.includes('default') && connected.some((a) => a.startsWith('replica')), `connections seen on ${connected.join(', ')}`);
      assert.equal(counts.callbackFace, connected.length, 'the callback face hears the same events');
      assert.ok(counts.acquire >= 2 && counts.release >= 2, `acquire ${counts.acquire}, release ${counts.release}`);
    } finally {
      await fresh.end();
    }
  });

  // mysql2 reads decimalNumbers and jsonStrings from the connection's config, never from a
  // statement's options: passed on as query options they did nothing on the cluster's connections.
  test("a driver module's decimalNumbers and jsonStrings apply (query and execute, on a replica), composed with the caller's typeCast", async () => {
    const sql = `SELECT CAST(12.5 AS DECIMAL(10,2)) AS d, JSON_EXTRACT('{"test": true}', '$') AS j, @@port AS port`;
    const conn = mysqlDriver(cluster).createConnection({ decimalNumbers: true, jsonStrings: true });
    const seen: string[] = [];
    const cast = mysqlDriver(cluster).createConnection({ decimalNumbers: true, typeCast: (field: { type: string }, next: () => unknown) => (seen.push(field.type), next()) });
    try {
      for (const method of ['query', 'execute'] as const) {
        const [rows] = (await conn[method](sql)) as unknown as [{ d: unknown; j: unknown; port: number }[]];
        assert.strictEqual(rows[0]!.d, 12.5, method);
        assert.strictEqual(rows[0]!.j, '{"test": true}', method);
        assert.match(portOf.get(Number(rows[0]!.port))!, /^replica/);
      }
      const [rows] = (await cast.query(sql)) as unknown as [{ d: unknown; j: unknown }[]];
      assert.strictEqual(rows[0]!.d, 12.5);
      assert.deepEqual(rows[0]!.j, { test: true }, 'without jsonStrings JSON is parsed');
      assert.ok(seen.includes('NEWDECIMAL'), seen.join(','));
    } finally {
      await conn.end();
      await cast.end();
    }
  });

  // mysql2 writes a Date parameter in its connection's timezone; a routed statement runs on a node
  // connection configured by the cluster, which wrote it in local time.
  test("a driver module's timezone writes Date parameters (query, execute, SET ? objects) as mysql2 would; config shows it", async () => {
    const date = new Date('2010-12-10T14:12:09.019Z');
    const conn = mysqlDriver(cluster).createConnection({ timezone: '+09:30' });
    const z = mysqlDriver(cluster).createConnection({ timezone: 'utc' });
    try {
      for (const method of ['query', 'execute'] as const) {
        const [rows] = (await conn[method]("SELECT DATE_FORMAT(?, '%Y-%m-%d %H:%i:%s.%f') AS s, @@port AS port", [date])) as unknown as [{ s: string; port: number }[]];
        assert.equal(rows[0]!.s, '2010-12-10 23:42:09.019000', method);
        assert.match(portOf.get(Number(rows[0]!.port))!, /^replica/);
      }
      assert.equal(conn.config.timezone, '+09:30');
      assert.equal(z.config.timezone, 'Z', "mysql2 keeps an invalid timezone as 'Z'");
      const [rows] = (await z.query("SELECT CAST(? AS CHAR) AS s, CAST('2010-12-10 14:12:09' AS DATETIME) AS d", [[date]])) as unknown as [{ s: string; d: Date }[]];
      assert.equal(rows[0]!.s, '2010-12-10 14:12:09.019');
      assert.equal(rows[0]!.d.getTime(), Date.UTC(2010, 11, 10, 14, 12, 9), "'utc' reads dates as UTC, not as Invalid Date");
    } finally {
      await conn.end();
      await z.end();
    }
  });

  // mysql2's documented row-by-row pattern; a routed connection's pause() did nothing, so every
  // row arrived while the caller thought the rows were stopped.
  test("conn.pause() stops a statement's 'result' rows on its replica connection until conn.resume()", async () => {
    const conn = mysqlDriver(cluster).createConnection({});
    try {
      let rows = 0;
      let ended = false;
      const paused = new Promise<void>((resolve, reject) => {
        const q = conn.query('SELECT seq, @@port AS port FROM seq_1_to_50000');
        q.on('result', (row: { port: number }) => {
          rows++;
          if (rows === 1) {
            assert.match(portOf.get(Number(row.port))!, /^replica/);
            conn.pause();
            resolve();
          }
        });
        q.on('error', reject);
        q.on('end', () => (ended = true));
      });
      await within(5000, paused, 'first row');
      // Round trips on other connections: time in which a connection that was not paused would deliver more rows.
      for (let i = 0; i < 5; i++) await pool.query('SELECT 1');
      assert.equal(rows, 1, 'no row while paused');
      assert.equal(ended, false);
      const done = new Promise<void>((resolve) => conn.query('SELECT 1', () => resolve()));
      conn.resume();
      await within(10000, done, 'rows after resume');
      assert.equal(rows, 50000);
      assert.equal(ended, true);
    } finally {
      await conn.end();
    }
  });

  // `using conn = mysql.createConnection()` only released it: the module's shared pool stayed open
  // and the process never exited (mysql2's test dispose/sync/connection timed out).
  test("a driver module's connection is ended by Symbol.dispose and Symbol.asyncDispose, as mysql2's", async () => {
    const mysql2 = mysqlDriver(cluster);
    const conn = mysql2.createConnection({});
    const [rows] = (await conn.query('SELECT @@port AS port')) as unknown as [{ port: number }[]];
    assert.match(portOf.get(Number(rows[0]!.port))!, /^replica/);
    conn[Symbol.dispose]();
    assert.equal(conn._closing, true);
    await assert.rejects(conn.query('SELECT 1'));
    const other = mysql2.createConnection({});
    await other.query('SELECT 1');
    await other[Symbol.asyncDispose]();
    assert.equal(other._closing, true);
    await assert.rejects(other.query('SELECT 1'));
  });

  // With a callback the statement runs buffered and the events follow its result: several result
  // sets came as one 'fields' with all of them and one 'result' per set (mysql2's
  // test-binary-multiple-results counts the 'fields' events).
  test("a CALL's several result sets emit 'fields' and 'result' per set, as mysql2's Query does", async () => {
    await pool.query('DROP PROCEDURE IF EXISTS rt_fid_two_sets');
    await pool.query('CREATE PROCEDURE rt_fid_two_sets() BEGIN SELECT 1 AS a; SELECT 2 AS b, 3 AS c; END');
    const events: string[] = [];
    const got = await within(5000, new Promise<unknown[]>((resolve, reject) => {
      const q = pool.pool.query('CALL rt_fid_two_sets()', (err, rows) => (err ? reject(err) : resolve(rows as unknown[])));
      q.on('fields', (f: unknown, i?: number) => events.push(`fields:${Array.isArray(f) ? f.length : String(f)}:${String(i)}`));
      q.on('result', (r: unknown, i?: number) => events.push(`result:${Array.isArray(r) ? 'array' : JSON.stringify(r).slice(0, 11)}:${String(i)}`));
    }), 'CALL');
    assert.equal(got.length, 3);
    assert.deepEqual(events, ['fields:1:0', 'result:{"a":1}:0', 'fields:2:1', 'result:{"b":2,"c"::1', 'fields:undefined:undefined', 'result:{"fieldCoun:undefined']);
  });

  // mysql2's own tests pass multipleStatements to createConnection/createPool; it was dropped
  // (a connection-level flag), so the server answered ER_PARSE_ERROR.
  test("a driver module's multipleStatements: several statements return every result, on the primary; without it the server's own error", async () => {
    const mysql2 = mysqlDriver(cluster);
    const multi = mysql2.createConnection({ multipleStatements: true });
    const plain = mysql2.createConnection({});
    const mpool = mysql2.createPool({ multipleStatements: true });
    try {
      const [sets] = (await multi.query('SELECT 1 AS a; SELECT @@port AS port')) as unknown as [[{ a: number }[], { port: number }[]]];
      assert.deepEqual(sets[0], [{ a: 1 }]);
      assert.equal(portOf.get(Number(sets[1][0]!.port)), 'default');
      const poolSets = await new Promise<unknown[]>((resolve, reject) => mpool.query('SELECT 1 AS a; SELECT 2 AS b', (err, rows) => (err ? reject(err) : resolve(rows as unknown[]))));
      assert.deepEqual(poolSets, [[{ a: 1 }], [{ b: 2 }]]);
      const err = await plain.query('SELECT 1 AS a; SELECT 2 AS b').then(() => undefined, (e: unknown) => e as Record<string, unknown>);
      assert.ok(err !== undefined, 'without multipleStatements the server refuses the text');
      assert.equal(err.code, 'ER_PARSE_ERROR');
      assert.equal(err.errno, 1064);
      assert.equal(err.sqlState, '42000');
      assert.match(String(err.sqlMessage), /SQL syntax/);
      const [one] = (await plain.query('SELECT @@port AS port')) as unknown as [{ port: number }[]];
      assert.match(portOf.get(Number(one[0]!.port))!, /^replica/);
    } finally {
      await multi.end();
      await plain.end();
      await new Promise<void>((resolve) => mpool.end(() => resolve()));
    }
  });

  // mysql2 emits 'error' on a connection whose server closed it (Knex and Sequelize listen, to drop
  // it); a routed connection holding that physical connection stayed silent.
  test("a connection holding a primary connection the server closes emits 'error' with mysql2's fields", async () => {
    const conn = mysqlDriver(cluster).createConnection({});
    try {
      await conn.query('SET wait_timeout = 1');
      assert.equal(conn.boundAlias, 'default');
      const [rows] = (await conn.query('SELECT @@port AS port, @@session.wait_timeout AS w')) as unknown as [{ port: number; w: number }[]];
      assert.equal(portOf.get(Number(rows[0]!.port)), 'default');
      assert.equal(Number(rows[0]!.w), 1);
      const err = (await within(10000, once(conn, 'error'), "the server's close"))[0] as { code?: string; fatal?: boolean };
      assert.ok(err.code === 'ECONNRESET' || err.code === 'PROTOCOL_CONNECTION_LOST', String(err.code));
      assert.equal(err.fatal, true);
    } finally {
      conn.destroy();
    }
  });

  test("connect(cb) calls back with the connection, as mysql2's", async () => {
    const conn = mysqlDriver(cluster).createConnection({});
    try {
      const got = await new Promise((resolve, reject) => conn.connect(((err: Error | null, c: unknown) => (err ? reject(err) : resolve(c))) as (err: Error | null) => void));
      assert.strictEqual(got, conn);
    } finally {
      await conn.end();
    }
  });

  test("the mariadb connector pool passes on the connector's 'connection', 'acquire' and 'release' events", async () => {
    const mpool = createMariadbPool(cluster);
    const events: string[] = [];
    for (const e of ['connection', 'acquire', 'release'] as const) mpool.on(e, (c: unknown) => events.push(c === undefined ? `${e}:none` : e));
    try {
      const rows = (await mpool.query('SELECT @@port AS port')) as { port: number }[];
      assert.match(portOf.get(Number(rows[0]!.port))!, /^replica/);
      assert.ok(events.includes('connection') && events.includes('acquire'), events.join(', '));
      assert.ok(!events.some((e) => e.endsWith(':none')), 'each event carries its connection');
    } finally {
      await mpool.end();
    }
  });
});
