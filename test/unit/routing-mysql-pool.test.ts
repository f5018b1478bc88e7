import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDbRouterError } from '../../src/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import { FakeMysqlPool, fakeCluster } from './routing-fakes.js';

function setup(replicas = 2) {
  const { cluster, net } = fakeCluster('mysql', replicas);
  const inner: FakeMysqlPool[] = [];
  const pool = createMysqlPool(cluster, {
    createPool: (config, alias) => {
      const p = new FakeMysqlPool(net, alias, config);
      inner.push(p);
      return p;
    },
  });
  return { cluster, net, pool, inner };
}

test('query/execute: reads to replicas, writes and MySQL hard cases to the primary', async () => {
  const { net, pool } = setup();
  await pool.query('SELECT * FROM users WHERE id = ?', [1]);
  assert.match(net.last().alias, /^replica/);
  await pool.execute('SELECT ?', [1]);
  assert.match(net.last().alias, /^replica/);
  await pool.query({ sql: 'SELECT 1', rowsAsArray: true });
  assert.match(net.last().alias, /^replica/);
  for (const sql of ['INSERT INTO t VALUES (?)', 'SELECT LAST_INSERT_ID()', "SELECT GET_LOCK('x', 1)", 'SELECT * FROM t LOCK IN SHARE MODE', 'SELECT 1 /*! FOR UPDATE */', 'SELECT NEXTVAL(s)']) {
    await pool.execute(sql, [1]);
    assert.equal(net.last().alias, 'default', sql);
  }
  await pool.end();
});

test("mysql2's callback API (what Kysely's MysqlDialect calls) works", async () => {
  const { net, pool } = setup();
  const conn = await new Promise<import('../../src/engines/mysql/index.js').RoutedMysqlConnection>((resolve, reject) =>
    pool.getConnection((err, c) => (err || !c ? reject(err ?? new Error('none')) : resolve(c))),
  );
  const rows = await new Promise<unknown>((resolve, reject) => conn.query('SELECT 1', [], (err, r) => (err ? reject(err) : resolve(r))));
  assert.ok(Array.isArray(rows));
  assert.match(net.last().alias, /^replica/);
  await new Promise<void>((resolve, reject) => conn.query('begin', [], (err) => (err ? reject(err) : resolve())));
  await new Promise<void>((resolve, reject) => conn.query('SELECT 2', [], (err) => (err ? reject(err) : resolve())));
  assert.equal(net.last().alias, 'default');
  await new Promise<void>((resolve, reject) => conn.query('commit', [], (err) => (err ? reject(err) : resolve())));
  conn.release();
  await new Promise<void>((resolve, reject) => pool.query('SELECT 3', (err) => (err ? reject(err) : resolve())));
  await new Promise<void>((resolve, reject) => {
    pool.end((err: Error | null) => (err ? reject(err) : resolve()));
  });
  assert.equal(pool.ended, true);
});

test('beginTransaction/commit pin the connection to the primary; START TRANSACTION READ ONLY may use a replica', async () => {
  const { net, pool } = setup();
  const c = await pool.getConnection();
  await c.beginTransaction();
  await c.query('SELECT 1');
  assert.equal(net.last().alias, 'default');
  await c.commit();
  c.release();
  const r = await pool.getConnection();
  await r.query('START TRANSACTION READ ONLY');
  const replica = net.last().alias;
  assert.match(replica, /^replica/);
  await r.query('SELECT 1');
  assert.equal(net.last().alias, replica);
  await r.query('COMMIT');
  r.release();
  assert.throws(() => r.release(), (e) => isDbRouterError(e, 'CLIENT_RELEASED'));
  await pool.end();
});

test('the safety net re-runs a refused write (errno 1290) on the primary', async () => {
  const { cluster, net, pool } = setup(1);
  const [rows] = await pool.query('SELECT write_fn(?)', [1]);
  assert.deepEqual(rows, [{ alias: 'default' }]);
  assert.equal(cluster.stats().byAlias.default!.misroutes, 1);
  assert.equal(net.last().alias, 'default');
  await pool.end();
});

test('a pool after end() rejects; Drizzle sees a promise pool (getConnection; promise() is the pool itself)', async () => {
  const { pool } = setup();
  assert.equal(pool.promise(), pool);
  assert.equal('getConnection' in pool, true);
  const c = await pool.getConnection();
  assert.equal('getConnection' in c, false);
  c.release();
  await pool.end();
  await assert.rejects(pool.query('SELECT 1'), (e) => isDbRouterError(e, 'POOL_ENDED'));
  await assert.rejects(pool.getConnection(), (e) => isDbRouterError(e, 'POOL_ENDED'));
});

test('SET TRANSACTION READ ONLY then BEGIN (Kysely on MySQL) holds one replica; anything else lets it go', async () => {
  const { net, pool } = setup();
  const c = await pool.getConnection();
  await c.query('set transaction read only');
  const replica = net.last().alias;
  assert.match(replica, /^replica/);
  await c.query('begin');
  await c.query('SELECT 1');
  await c.query('commit');
  assert.deepEqual(net.ran.slice(-3).map((r) => r.alias), [replica, replica, replica]);
  assert.equal(c.boundAlias, undefined);
  await c.query('SET TRANSACTION READ ONLY');
  await c.query('INSERT INTO t VALUES (1)');
  assert.equal(net.last().alias, 'default');
  await c.query('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY');
  assert.equal(net.last().alias, 'default', 'SERIALIZABLE stays on the primary (a PostgreSQL standby refuses it)');
  c.release();
  await pool.end();
});
