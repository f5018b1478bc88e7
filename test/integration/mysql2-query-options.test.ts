// mysql2 statement options through the routed pools on real MariaDB replicas: `namedPlaceholders`
// per statement, from a driver module's config, and set after creation on `pool.config` /
// `connection.config` (as mysql2 allows), with reads on replicas and writes on the primary; and a
// statement's `timeout`, whose error is mysql2's own and whose connection is not used again.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { createCluster, type Cluster } from '../../src/index.js';
import { createMysqlPool, mysqlDriver, type RoutedMysqlPool } from '../../src/engines/mysql/index.js';
import type { LocalCluster } from '../../src/local/index.js';
import { isDbRouterError } from '../../src/errors.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';

const TABLE = 'rt_mysql2_opts';
const require = createRequire(import.meta.url);
const mysqlPromise = require('mysql2/promise') as typeof import('mysql2/promise');

/** The fields of a mysql2 error that callers test. */
function shape(err: unknown): Record<string, unknown> {
  const e = err as Record<string, unknown> & Error;
  return { name: e.name, message: e.message, code: e.code, errorno: e.errorno, syscall: e.syscall, fatal: e.fatal, hasFatal: 'fatal' in e };
}

describe('mysql2 statement options through the routed pool', { skip: await engineSkip('mariadb') }, () => {
  let local: LocalCluster;
  let cluster: Cluster;
  let pool: RoutedMysqlPool;
  let portOf: Map<number, string>;
  let primary: string;

  before(async () => {
    local = await sharedCluster('mariadb');
    portOf = new Map(Object.entries(local.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));
    primary = Object.entries(local.databases).find(([, d]) => d.role === 'primary')![0];
    const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role }]));
    cluster = createCluster({ databases, debug: true });
    pool = createMysqlPool(cluster);
    await pool.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await pool.query(`CREATE TABLE ${TABLE} (id int AUTO_INCREMENT PRIMARY KEY, v varchar(100))`);
  });
  after(async () => {
    await pool?.end();
    await cluster?.end();
  });
  beforeEach(async () => {
    await local.waitForAllReplicas();
    cluster.resetStats();
  });
  afterEach(() => assert.equal(cluster.stats().misroutes, 0));

  const ran = (): string[] => cluster.queries.map((q) => q.alias);
  const isReplica = (port: unknown): boolean => /^replica/.test(portOf.get(Number(port)) ?? '');

  test('a statement with { namedPlaceholders: true }: the SELECT on a replica, the INSERT on the primary', async () => {
    const [ins] = (await pool.query({ sql: `INSERT INTO ${TABLE} (v) VALUES (:v)`, namedPlaceholders: true }, { v: 'np1' })) as [{ affectedRows: number }, unknown];
    assert.equal(ins.affectedRows, 1);
    assert.deepEqual(ran(), [primary]);
    await local.waitForAllReplicas();
    const [rows] = (await pool.execute({ sql: `SELECT v, @@port AS port FROM ${TABLE} WHERE v = :v`, namedPlaceholders: true }, { v: 'np1' })) as [{ v: string; port: number }[], unknown];
    assert.equal(rows.length, 1);
    assert.ok(isReplica(rows[0]!.port), `ran on ${portOf.get(Number(rows[0]!.port))}`);
    const [[q]] = (await pool.query({ sql: 'SELECT :a + :b AS s, @@port AS port', namedPlaceholders: true }, { a: 2, b: 3 })) as [{ s: number; port: number }[], unknown];
    assert.equal(Number(q!.s), 5);
    assert.ok(isReplica(q!.port));
  });

  test("pool.config.connectionConfig.namedPlaceholders = true after creation applies to the pool's statements", async () => {
    const own = createMysqlPool(cluster);
    try {
      await assert.rejects(own.query('SELECT :a AS a', { a: 1 }), 'without the setting, `:a` is not a placeholder');
      own.pool.config.connectionConfig.namedPlaceholders = true;
      assert.equal(own.pool.config.connectionConfig.namedPlaceholders, true, 'the setting stays');
      cluster.resetStats();
      const [[row]] = (await own.query('SELECT :a AS a, @@port AS port', { a: 41 })) as [{ a: number; port: number }[], unknown];
      assert.equal(Number(row!.a), 41);
      assert.ok(isReplica(row!.port));
      await own.query(`INSERT INTO ${TABLE} (v) VALUES (:v)`, { v: 'np-pool' });
      assert.deepEqual(ran().slice(-1), [primary]);
      const [[plain]] = (await own.query({ sql: 'SELECT ? AS a', namedPlaceholders: false }, [7])) as [{ a: number }[], unknown];
      assert.equal(Number(plain!.a), 7, "a statement's own setting wins");
    } finally {
      await own.end();
    }
  });

  test('connection.config.namedPlaceholders = true on a checked-out connection: reads on a replica, the write on the primary', async () => {
    const conn = await pool.getConnection();
    try {
      conn.config.namedPlaceholders = true;
      const [[r]] = (await conn.query('SELECT :a AS a, @@port AS port', { a: 9 })) as [{ a: number; port: number }[], unknown];
      assert.equal(Number(r!.a), 9);
      assert.ok(isReplica(r!.port), 'unbound: a replica');
      await conn.query(`INSERT INTO ${TABLE} (v) VALUES (:v)`, { v: 'np-conn' });
      assert.equal(conn.boundAlias, primary);
      const [[w]] = (await conn.execute(`SELECT COUNT(*) AS n, @@port AS port FROM ${TABLE} WHERE v = :v`, { v: 'np-conn' })) as [{ n: number; port: number }[], unknown];
      assert.equal(Number(w!.n), 1);
      assert.equal(portOf.get(Number(w!.port)), primary, 'bound after the write: the primary');
    } finally {
      conn.release();
    }
    const other = await pool.getConnection();
    try {
      assert.notEqual(other.config.namedPlaceholders, true, "one connection's setting is its own");
    } finally {
      other.release();
    }
  });

  test("a driver module's createPool({ namedPlaceholders: true }) keeps the setting", async () => {
    const own = mysqlDriver(cluster).createPool({ namedPlaceholders: true });
    try {
      const [[row]] = (await own.promise().query('SELECT :a AS a, @@port AS port', { a: 3 })) as [{ a: number; port: number }[], unknown];
      assert.equal(Number(row!.a), 3);
      assert.ok(isReplica(row!.port));
    } finally {
      await own.promise().end();
    }
  });

  describe("a statement's `timeout`", () => {
    let replica: string;
    let direct: import('mysql2/promise').Connection;
    let expected: Record<string, unknown>;

    before(async () => {
      replica = Object.keys(local.databases).find((a) => a !== primary)!;
      // mysql2's own error for the same timeout, on a plain connection to the same replica.
      direct = await mysqlPromise.createConnection(local.databases[replica]!.url);
      expected = await direct.query({ sql: 'SELECT SLEEP(5) AS s', timeout: 100 }).then(() => assert.fail('no timeout'), shape);
      assert.equal(expected.code, 'PROTOCOL_SEQUENCE_TIMEOUT');
      assert.equal(expected.message, 'Query inactivity timeout');
    });
    after(() => {
      direct?.destroy();
    });

    /** The id of the connection of `node` still running the statement tagged `tag`, if one is. */
    async function runningOn(node: string, tag: string): Promise<number | undefined> {
      const conn = await mysqlPromise.createConnection(local.databases[node]!.url);
      try {
        const [rows] = (await conn.query(`SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()`, [`%${tag}%`])) as [{ id: number }[], unknown];
        return rows[0]?.id;
      } finally {
        await conn.end();
      }
    }

    async function kill(node: string, id: number): Promise<void> {
      const conn = await mysqlPromise.createConnection(local.databases[node]!.url);
      try {
        await conn.query(`KILL QUERY ${id}`);
      } finally {
        await conn.end();
      }
    }

    test("a timed-out read fails with mysql2's own error, once, on its replica; the replica stays in use and the connection is not reused while the statement runs", async () => {
      const tag = 'mdbg_read_timeout';
      const err = await cluster.using(replica, () => pool.query({ sql: `SELECT SLEEP(5) AS s /* ${tag} */`, timeout: 150 })).then(() => assert.fail('no timeout'), (e: unknown) => e);
      assert.ok(!isDbRouterError(err), 'passed through, not wrapped');
      assert.deepEqual(shape(err), expected);
      assert.deepEqual(ran(), [replica], 'not re-run on another node');
      const sleeping = await runningOn(replica, tag);
      assert.ok(sleeping !== undefined, 'the statement still runs on the server');
      try {
        const ids = new Set<number>();
        for (let i = 0; i < 4; i++) {
          const [[row]] = (await cluster.using(replica, () => pool.query('SELECT CONNECTION_ID() AS id, @@port AS port'))) as [{ id: number; port: number }[], unknown];
          assert.equal(portOf.get(Number(row!.port)), replica);
          ids.add(Number(row!.id));
        }
        assert.ok(!ids.has(sleeping), `connection ${sleeping} is still busy with the timed-out statement`);
        assert.equal(cluster.stats().misroutes, 0);
        assert.ok(cluster.status()?.readableReplicas.includes(replica), 'a slow statement is no failing node: the replica still serves reads');
      } finally {
        await kill(replica, sleeping);
      }
    });

    test("a timed-out write fails with mysql2's own error on the primary (not WRITE_OUTCOME_UNKNOWN), and is not re-run", async () => {
      const tag = 'mdbg_write_timeout';
      const err = await pool.query({ sql: `INSERT INTO ${TABLE} (v) SELECT IF(SLEEP(5) = 0, 'late', 'killed') /* ${tag} */`, timeout: 150 }).then(() => assert.fail('no timeout'), (e: unknown) => e);
      assert.ok(!isDbRouterError(err), `passed through, not wrapped: ${String(err)}`);
      assert.deepEqual(shape(err), expected);
      assert.deepEqual(ran(), [primary]);
      const sleeping = await runningOn(primary, tag);
      assert.ok(sleeping !== undefined, 'the write still runs on the primary');
      await kill(primary, sleeping);
      const [ok] = (await pool.query(`INSERT INTO ${TABLE} (v) VALUES ('after-timeout')`)) as [{ affectedRows: number }, unknown];
      assert.equal(ok.affectedRows, 1, 'the primary takes writes');
      assert.deepEqual(ran(), [primary, primary]);
    });
  });
});
