// Read-only pools over fake drivers (issue 12): `readOnly: true` on createPgPool, createMysqlPool,
// createMariadbPool, pgDriver and mysqlDriver refuses, before any node sees it, every statement the
// read-only rule refuses — on the pool, its checked-out clients, callback forms and pinned pools —
// while reads, transactions, savepoints and session settings run where they always do. The rule
// itself (one allow-list for the scope and the pool) is checked statement by statement.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDbRouterError } from '../../src/index.js';
import { classify, type Dialect } from '../../src/sql/index.js';
import { readOnlyRefuses } from '../../src/routing/read-only.js';
import { createPgPool, pgDriver } from '../../src/engines/postgres/index.js';
import { createMysqlPool, mysqlDriver } from '../../src/engines/mysql/index.js';
import { createMariadbPool } from '../../src/engines/mysql/mariadb-connector.js';
import { FakeMysqlPool, FakePgPool, fakeCluster } from './routing-fakes.js';

const refused = (e: unknown) => isDbRouterError(e, 'READ_ONLY') && /before it reached any server/.test(e.message);

const RULE: Record<Dialect, { allowed: string[]; refused: string[] }> = {
  postgres: {
    allowed: [
      'SELECT * FROM t', 'VALUES (1)', 'TABLE t', 'WITH a AS (SELECT 1) SELECT * FROM a', 'SHOW search_path', 'EXPLAIN DELETE FROM t',
      'EXPLAIN ANALYZE SELECT 1', 'BEGIN', 'BEGIN READ ONLY', 'START TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'COMMIT', 'ROLLBACK',
      'COMMIT AND CHAIN', 'SAVEPOINT s', 'RELEASE SAVEPOINT s', 'ROLLBACK TO SAVEPOINT s', "SET search_path TO app", "SET LOCAL statement_timeout = '1s'",
      'RESET ALL', 'DISCARD ALL', 'LISTEN ch', 'UNLISTEN *', 'DECLARE c CURSOR WITH HOLD FOR SELECT 1', 'FETCH 10 FROM c', 'CLOSE c',
      'SELECT currval(\'s\')', "SELECT set_config('a.b', 'c', false)", 'PREPARE p AS SELECT 1', 'DEALLOCATE p',
    ],
    refused: [
      'INSERT INTO t VALUES (1)', 'UPDATE t SET a = 1', 'DELETE FROM t', 'MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE', 'TRUNCATE t',
      'COPY t FROM STDIN', 'COPY t TO STDOUT', 'CREATE TABLE x (a int)', 'ALTER TABLE t ADD b int', 'DROP TABLE t', 'GRANT SELECT ON t TO u', 'COMMENT ON TABLE t IS \'x\'',
      'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', 'SELECT * INTO t2 FROM t', 'SELECT * FROM t FOR UPDATE', 'SELECT * FROM t FOR SHARE',
      'LOCK TABLE t', "SELECT nextval('s')", "SELECT setval('s', 1)", 'SELECT txid_current()', 'SELECT pg_advisory_lock(1)', 'SELECT pg_advisory_xact_lock(1)',
      "SELECT pg_notify('c', 'x')", "NOTIFY ch, 'x'", 'CALL p()', 'DO $$ BEGIN END $$', 'VACUUM t', 'ANALYZE t', 'EXPLAIN ANALYZE DELETE FROM t', 'EXECUTE p',
      'CREATE TEMP TABLE x (a int)', 'SELECT 1; SELECT 2', 'SET a = 1; DELETE FROM t', 'FROBNICATE t', '', '/* only a comment */', "SELECT 'unterminated",
    ],
  },
  mysql: {
    allowed: [
      'SELECT * FROM t', 'SHOW TABLES', 'EXPLAIN SELECT 1', 'EXPLAIN DELETE FROM t', 'START TRANSACTION', 'START TRANSACTION READ ONLY', 'COMMIT', 'ROLLBACK',
      'SAVEPOINT s', 'ROLLBACK TO SAVEPOINT s', "SET time_zone = '+00:00'", 'SET @a = 1', 'SELECT @a := 1', 'USE app', 'UNLOCK TABLES',
      'SELECT LAST_INSERT_ID()', 'SELECT FOUND_ROWS()', 'SELECT a INTO @v FROM t', 'SHOW MASTER STATUS', 'SHOW WARNINGS',
    ],
    refused: [
      'INSERT INTO t VALUES (1)', 'REPLACE INTO t VALUES (1)', 'UPDATE t SET a = 1', 'DELETE FROM t', 'TRUNCATE t', 'LOAD DATA INFILE \'f\' INTO TABLE t',
      'CREATE TABLE x (a int)', 'DROP TABLE t', 'RENAME TABLE t TO u', 'SELECT * FROM t FOR UPDATE', 'SELECT * FROM t LOCK IN SHARE MODE', 'LOCK TABLES t READ',
      "SELECT GET_LOCK('a', 0)", 'SELECT NEXT VALUE FOR s', 'SELECT * FROM t INTO OUTFILE \'/tmp/x\'', 'CALL p()', 'EXECUTE stmt', 'CREATE TEMPORARY TABLE x (a int)',
      'DROP TEMPORARY TABLE x', 'SELECT 1; DELETE FROM t', 'FROBNICATE', 'SELECT 1 /*! FOR UPDATE */', 'WITH d AS (SELECT 1) DELETE FROM t',
    ],
  },
};

for (const [dialect, { allowed, refused: no }] of Object.entries(RULE) as [Dialect, (typeof RULE)[Dialect]][]) {
  test(`the read-only rule on ${dialect}: reads, transactions, cursors and session settings run; writes, locks and unvouched texts are refused`, () => {
    const wrong = [
      ...allowed.filter((sql) => readOnlyRefuses(classify(sql, dialect))).map((sql) => `refused but should run: ${sql} (${classify(sql, dialect).reason})`),
      ...no.filter((sql) => !readOnlyRefuses(classify(sql, dialect))).map((sql) => `runs but should be refused: ${sql} (${classify(sql, dialect).reason})`),
    ];
    assert.deepEqual(wrong, []);
  });
}

test('pg: a read-only pool refuses before any node (pool, callback form, free and bound clients, pinned); reads and transactions run; a writable pool on the same cluster still writes', async () => {
  const { cluster, net } = fakeCluster('postgres');
  const createPool = (config: object, alias: string) => new FakePgPool(net, alias, config);
  const ro = createPgPool(cluster, { readOnly: true, createPool });
  const rw = createPgPool(cluster, { createPool });
  await assert.rejects(ro.query('INSERT INTO t VALUES (1)'), refused);
  await assert.rejects(ro.query({ text: 'UPDATE t SET a = $1', values: [1] }), refused);
  await assert.rejects(ro.query('SELECT * FROM t FOR UPDATE'), refused);
  const viaCallback = await new Promise<unknown>((resolve) => ro.query('DELETE FROM t', (err) => resolve(err)));
  assert.ok(refused(viaCallback), 'the callback form gets the error');
  const r = await ro.query('SELECT 1');
  assert.match(r.rows[0]!.alias as string, /^replica/, 'a read goes to a replica');

  const client = await ro.connect();
  await assert.rejects(client.query('INSERT INTO t VALUES (2)'), refused, 'a free client');
  await client.query('SET search_path TO app');
  await client.query('BEGIN READ ONLY');
  assert.match(client.boundAlias!, /^replica/, 'BEGIN READ ONLY binds to a replica');
  await assert.rejects(client.query('INSERT INTO t VALUES (3)'), refused, 'a client bound in a read-only transaction');
  await client.query('COMMIT');
  await client.query('BEGIN');
  assert.match(client.boundAlias!, /^replica/, 'a plain BEGIN can only read here: it binds to a replica');
  await client.query('SAVEPOINT s1');
  await assert.rejects(client.query('DELETE FROM t'), refused, 'a client bound in a plain transaction');
  await client.query('ROLLBACK');
  await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
  assert.equal(client.boundAlias, 'default', 'SERIALIZABLE (refused by a standby) binds to the primary');
  await assert.rejects(client.query('DELETE FROM t'), refused, 'a client bound to the primary');
  await client.query('ROLLBACK');
  client.release();

  const pinned = createPgPool(cluster, { readOnly: true, pinned: 'default', createPool });
  await assert.rejects(pinned.query('DROP TABLE t'), refused, 'a pinned read-only pool');
  await pinned.query('SELECT 2');
  assert.equal(net.where('SELECT 2')[0], 'default');

  assert.deepEqual(net.ran.filter((x) => /^(INSERT|UPDATE|DELETE|DROP)|FOR UPDATE/.test(x.sql)), [], 'no write reached any node');
  await rw.query('INSERT INTO t VALUES (4)');
  assert.deepEqual(net.where('INSERT INTO t VALUES (4)'), ['default'], 'the view does not leak into other pools');
  await cluster.end();
});

test('pg: pgDriver(cluster, { readOnly: true }): its Pool and its Client refuse writes', async () => {
  const { cluster, net } = fakeCluster('postgres');
  const driver = pgDriver(cluster, { readOnly: true, createPool: (config, alias) => new FakePgPool(net, alias, config) });
  const pool = new driver.Pool();
  await assert.rejects(pool.query('INSERT INTO t VALUES (1)'), refused);
  const client = new driver.Client();
  await client.connect();
  await assert.rejects(client.query('UPDATE t SET a = 1'), refused);
  await client.query('SELECT 1');
  await client.end();
  assert.deepEqual(net.ran.filter((x) => /^(INSERT|UPDATE)/.test(x.sql)), []);
  await cluster.end();
});

test('pg: the readOnly option is checked', () => {
  const { cluster } = fakeCluster('postgres');
  assert.throws(() => createPgPool(cluster, { readOnly: 'yes' as unknown as boolean }), (e: unknown) => isDbRouterError(e, 'CONFIG_INVALID') && /readOnly/.test(e.message));
  assert.throws(() => createPgPool(cluster, { readonly: true } as never), (e: unknown) => isDbRouterError(e, 'CONFIG_INVALID') && /readOnly/.test(e.message), 'a misspelt key suggests readOnly');
});

test('mysql: a read-only pool refuses before any node (query, execute, callback forms, getConnection); reads and transactions run', async () => {
  const { cluster, net } = fakeCluster('mysql');
  const pool = createMysqlPool(cluster, { readOnly: true, createPool: (config, alias) => new FakeMysqlPool(net, alias, config) });
  await assert.rejects(pool.query('INSERT INTO t VALUES (1)'), refused);
  await assert.rejects(pool.execute('UPDATE t SET a = ?', [1]), refused);
  await assert.rejects(pool.query("SELECT GET_LOCK('a', 0)"), refused);
  const viaCallback = await new Promise<unknown>((resolve) => pool.pool.query('DELETE FROM t', (err: unknown) => resolve(err)));
  assert.ok(refused(viaCallback), 'the callback pool gets the error');
  const [rows] = await pool.query('SELECT 1');
  assert.match((rows as { alias: string }[])[0]!.alias, /^replica/);

  const conn = await pool.getConnection();
  await assert.rejects(conn.query('REPLACE INTO t VALUES (1)'), refused);
  await conn.query('START TRANSACTION READ ONLY');
  await assert.rejects(conn.query('DELETE FROM t'), refused);
  await conn.query('COMMIT');
  await conn.query('START TRANSACTION');
  await assert.rejects(conn.execute('INSERT INTO t VALUES (?)', [2]), refused);
  await conn.query('ROLLBACK');
  conn.release();
  assert.deepEqual(net.ran.filter((x) => /INSERT|REPLACE|DELETE|^UPDATE|GET_LOCK/.test(x.sql)), []);
  await cluster.end();
});

test('mysql: mysqlDriver(cluster, { readOnly: true }) refuses writes on its pools and connections', async () => {
  const { cluster } = fakeCluster('mysql');
  const driver = mysqlDriver(cluster, { readOnly: true });
  const pool = driver.createPool({});
  const viaPool = await new Promise<unknown>((resolve) => pool.query('INSERT INTO t VALUES (1)', (err: unknown) => resolve(err)));
  assert.ok(refused(viaPool));
  const conn = driver.createConnection({});
  const viaConn = await new Promise<unknown>((resolve) => conn.query('DELETE FROM t', (err: unknown) => resolve(err)));
  assert.ok(refused(viaConn));
  conn.destroy();
  await cluster.end();
});

test('mariadb connector: createMariadbPool(cluster, { readOnly: true }) refuses before any node; reads run on replicas', async () => {
  const { cluster, net } = fakeCluster('mysql');
  const pool = createMariadbPool(cluster, { readOnly: true, createPool: (config, alias) => new FakeMysqlPool(net, alias, config) });
  await assert.rejects(pool.query('INSERT INTO t VALUES (1)'), refused);
  await assert.rejects(pool.execute('UPDATE t SET a = ?', [1]), refused);
  await pool.query('SELECT 1');
  assert.match(net.where('SELECT 1')[0]!, /^replica/);
  const conn = await pool.getConnection();
  await conn.beginTransaction();
  await assert.rejects(conn.query('DELETE FROM t'), refused);
  await conn.rollback();
  await conn.release();
  assert.deepEqual(net.ran.filter((x) => /INSERT|DELETE|^UPDATE/.test(x.sql)), []);
  await cluster.end();
});
