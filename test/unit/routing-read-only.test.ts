// Strict read-only scopes (cluster.readOnly(), Rails' while_preventing_writes) over fake drivers:
// a statement that changes data is refused with READ_ONLY before any node sees it, on the pool, on a
// free and on a bound checked-out client, through nested scopes; reads, transactions and session
// settings run; locks and texts the classifier cannot vouch for are refused (the read-only pool's rule).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDbRouterError } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import { FakeMysqlPool, FakePgPool, fakeCluster } from './routing-fakes.js';

const refused = (e: unknown) => isDbRouterError(e, 'READ_ONLY') && /before it reached any server/.test(e.message);

test('postgres: writes refused before any node, reads and transactions run, nothing inside turns it off', async () => {
  const { cluster, net } = fakeCluster('postgres');
  const pool = createPgPool(cluster, { createPool: (config, alias) => new FakePgPool(net, alias, config) });
  await cluster.readOnly(async () => {
    await assert.rejects(pool.query('INSERT INTO t VALUES (1)'), refused);
    await assert.rejects(pool.query('WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d'), refused);
    await assert.rejects(pool.query('SELECT nextval(\'s\')'), refused);
    await assert.rejects(pool.query('CREATE TABLE x (a int)'), refused);
    await assert.rejects(cluster.primary(() => pool.query('UPDATE t SET a = 1')), refused, 'primary() inside does not lift it');
    await assert.rejects(cluster.withToken(undefined, () => pool.query('DELETE FROM t')), refused, 'a new unit of work inside does not lift it');
    const r = await pool.query('SELECT 1');
    assert.match(r.rows[0]!.alias as string, /^replica/);
    await assert.rejects(pool.query('SELECT * FROM t FOR UPDATE'), refused, 'a row lock makes writers wait: refused');
    await assert.rejects(pool.query('SET a = 1; DELETE FROM t'), refused, 'a multi-statement text with a session part is refused too');
    await assert.rejects(pool.query('CALL p()'), refused, 'CALL may write');
    await pool.query("SET statement_timeout = '5s'");          // session settings run
    const client = await pool.connect();
    await assert.rejects(client.query('INSERT INTO t VALUES (2)'), refused, 'a free client');
    await client.query('BEGIN');
    await client.query('SELECT 2');
    await assert.rejects(client.query('INSERT INTO t VALUES (3)'), refused, 'a client bound in a transaction');
    await client.query('ROLLBACK');
    client.release();
  });
  assert.deepEqual(net.ran.filter((r) => /^(INSERT|DELETE|UPDATE|CREATE|WITH|CALL)|nextval|FOR UPDATE/.test(r.sql)), [], 'no write reached any node');
  await pool.query('INSERT INTO t VALUES (4)');
  assert.equal(net.where('INSERT INTO t VALUES (4)')[0], 'default', 'outside the scope writes run');
});

test('mysql: writes refused before any node on the pool and on getConnection()', async () => {
  const { cluster, net } = fakeCluster('mysql');
  const pool = createMysqlPool(cluster, { createPool: (config, alias) => new FakeMysqlPool(net, alias, config) });
  await cluster.readOnly(async () => {
    await assert.rejects(pool.query('INSERT INTO t VALUES (1)'), refused);
    await assert.rejects(pool.execute('UPDATE t SET a = ?', [1]), refused);
    await assert.rejects(pool.query('SELECT 1; DELETE FROM t'), refused, 'a multi-statement text is refused');
    const conn = await pool.getConnection();
    await conn.query('START TRANSACTION');
    await assert.rejects(conn.query('REPLACE INTO t VALUES (1)'), refused);
    await conn.query('COMMIT');
    conn.release();
    await pool.query('SELECT 1');
  });
  assert.deepEqual(net.ran.filter((r) => /INSERT|DELETE|^UPDATE|REPLACE/.test(r.sql)), []);
});
