// The classifier asked against real servers: every statement it sends to a replica runs on a real
// hot standby / read_only MariaDB replica, and every write it keeps on the primary is one that
// such a replica really refuses. (Statements that go to the primary for other reasons, such as
// row locks or advisory locks that other sessions must see, run fine on a replica and are not listed.)
// What these servers said decided two rules: a PostgreSQL standby plans EXPLAIN of DML (replica), a
// read_only MariaDB refuses it (primary, `explain-write`).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { LocalCluster } from '../../src/local/index.js';
import { classify } from '../../src/sql/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';

/** A read-only refusal: PostgreSQL 25006 (or a "during recovery" / hot standby refusal). */
function pgRefusedAsReadOnly(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err.code === '25006' || /recovery|hot standby|read-only/i.test(err.message ?? '');
}

/** A read-only refusal on MariaDB/MySQL: errno 1290 (read_only), 1792 (read-only transaction), 1836. */
function mysqlRefusedAsReadOnly(e: unknown): boolean {
  const errno = (e as { errno?: number }).errno;
  return errno === 1290 || errno === 1792 || errno === 1836;
}

describe('classification against a real PostgreSQL hot standby', { skip: await engineSkip('postgres') }, () => {
  let local: LocalCluster;
  let replica: pg.Client;

  before(async () => {
    local = await sharedCluster('postgres');
    const primary = new pg.Client({ connectionString: local.databases.default!.url });
    await primary.connect();
    await primary.query(`
      DROP TABLE IF EXISTS sqlc_pg_t; DROP SEQUENCE IF EXISTS sqlc_pg_s;
      CREATE TABLE sqlc_pg_t (id int PRIMARY KEY, a int);
      CREATE SEQUENCE sqlc_pg_s;
      INSERT INTO sqlc_pg_t VALUES (1, 1);`);
    await primary.end();
    await local.waitForAllReplicas();
    replica = new pg.Client({ connectionString: local.databases.replica1!.url });
    await replica.connect();
  });

  after(async () => {
    await replica?.end();
  });

  const reads = [
    'SELECT 1',
    'select 1;',
    '(SELECT 1) UNION (SELECT 2)',
    'VALUES (1), (2)',
    'TABLE sqlc_pg_t',
    'WITH a AS (SELECT 1) SELECT * FROM a',
    'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r',
    'SHOW search_path',
    'EXPLAIN SELECT * FROM sqlc_pg_t',
    'EXPLAIN INSERT INTO sqlc_pg_t VALUES (2, 2)',
    'EXPLAIN (COSTS off) DELETE FROM sqlc_pg_t',
    'EXPLAIN ANALYZE SELECT * FROM sqlc_pg_t',
    "SELECT 'delete from sqlc_pg_t; drop table x'",
    "SELECT $$ ; delete from sqlc_pg_t $$, $x$ for update $x$",
    "SELECT E'\\' ; delete from sqlc_pg_t'",
    'SELECT 1 /* delete /* nested */ insert; */',
    'SELECT "nextval" FROM (SELECT 1 AS "nextval") s',
    'SELECT * FROM sqlc_pg_t FOR READ ONLY',
    'SELECT pg_sleep(0)',
    'SELECT txid_current_if_assigned()',
    'SELECT count(*) FROM sqlc_pg_t WHERE a IN (SELECT a FROM sqlc_pg_t)',
  ];
  for (const sql of reads) {
    test(`replica: ${sql}`, async () => {
      assert.equal(classify(sql, 'postgres').target, 'replica');
      await replica.query(sql);
    });
  }

  test('replica: BEGIN READ ONLY ... ROLLBACK', async () => {
    for (const sql of ['BEGIN READ ONLY', 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', 'START TRANSACTION READ ONLY']) {
      assert.equal(classify(sql, 'postgres').target, 'replica', sql);
      await replica.query(sql);
      await replica.query('SELECT * FROM sqlc_pg_t');
      await replica.query('ROLLBACK');
    }
  });

  const refused = [
    'INSERT INTO sqlc_pg_t VALUES (100, 1)',
    'UPDATE sqlc_pg_t SET a = 2 WHERE id = -1',
    'DELETE FROM sqlc_pg_t WHERE id = -1',
    'MERGE INTO sqlc_pg_t t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = 1',
    'WITH d AS (DELETE FROM sqlc_pg_t WHERE id = -1 RETURNING *) SELECT * FROM d',
    'WITH a AS (SELECT 1) INSERT INTO sqlc_pg_t SELECT 101, 1 FROM a',
    'SELECT * INTO sqlc_pg_new FROM sqlc_pg_t',
    "SELECT nextval('sqlc_pg_s')",
    "SELECT setval('sqlc_pg_s', 5)",
    'SELECT txid_current()',
    "SELECT pg_notify('c', 'x')",
    'EXPLAIN ANALYZE INSERT INTO sqlc_pg_t VALUES (102, 1)',
    'CREATE TABLE sqlc_pg_x (a int)',
    'CREATE TEMP TABLE sqlc_pg_tmp (a int)',
    'TRUNCATE sqlc_pg_t',
    'VACUUM sqlc_pg_t',
    'ANALYZE sqlc_pg_t',
    'LISTEN sqlc_chan',
    'NOTIFY sqlc_chan',
    'DO $$ BEGIN INSERT INTO sqlc_pg_t VALUES (103, 1); END $$',
    'SELECT 1; DELETE FROM sqlc_pg_t WHERE id = -1',
    'BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY',
  ];
  for (const sql of refused) {
    test(`primary, and a standby refuses it: ${sql}`, async () => {
      assert.equal(classify(sql, 'postgres').target, 'primary');
      await assert.rejects(replica.query(sql), (e) => {
        assert.ok(pgRefusedAsReadOnly(e), `not a read-only refusal: ${(e as Error).message}`);
        return true;
      });
      await replica.query('ROLLBACK').catch(() => undefined);
    });
  }
});

describe('classification against a real read_only MariaDB replica', { skip: await engineSkip('mariadb') }, () => {
  let local: LocalCluster;
  let replica: mysql.Connection;

  before(async () => {
    local = await sharedCluster('mariadb');
    const primary = await mysql.createConnection({ uri: local.databases.default!.url, multipleStatements: true });
    await primary.query(`
      DROP TABLE IF EXISTS sqlc_my_t; DROP SEQUENCE IF EXISTS sqlc_my_s;
      CREATE TABLE sqlc_my_t (id int PRIMARY KEY, a int) ENGINE=InnoDB;
      CREATE SEQUENCE sqlc_my_s;
      INSERT INTO sqlc_my_t VALUES (1, 1);`);
    await primary.end();
    await local.waitForAllReplicas();
    replica = await mysql.createConnection({ uri: local.databases.replica1!.url, multipleStatements: true });
  });

  after(async () => {
    await replica?.end();
  });

  const reads = [
    'SELECT 1',
    'select * from `sqlc_my_t` where `id` = 1',
    '(SELECT 1) UNION ALL (SELECT 2)',
    'WITH a AS (SELECT 1) SELECT * FROM a',
    'SHOW TABLES',
    'SHOW CREATE TABLE sqlc_my_t',
    'DESCRIBE sqlc_my_t',
    'EXPLAIN SELECT * FROM sqlc_my_t',
    'EXPLAIN FORMAT=JSON SELECT * FROM sqlc_my_t',
    "SELECT 'delete from sqlc_my_t; drop table x'",
    'SELECT "delete; for update"',
    "SELECT 'it\\'s'",
    'SELECT `delete` FROM (SELECT 1 AS `delete`) s',
    'SELECT 1 # ; DELETE FROM sqlc_my_t\n',
    'SELECT 1 -- ; DELETE FROM sqlc_my_t\n',
    'SELECT 1 /* ; DELETE FROM sqlc_my_t */',
    "SELECT INSERT('abc', 1, 1, 'x'), REPLACE('abc', 'a', 'b')",
    'SELECT 1--1',
    'SELECT @@session.sql_mode',
    'SELECT * FROM sqlc_my_t /*+ FOR UPDATE */',
  ];
  for (const sql of reads) {
    test(`replica: ${sql.replace(/\n/g, ' ')}`, async () => {
      assert.equal(classify(sql, 'mysql').target, 'replica');
      await replica.query(sql);
    });
  }

  test('replica: START TRANSACTION READ ONLY ... ROLLBACK', async () => {
    assert.equal(classify('START TRANSACTION READ ONLY', 'mysql').target, 'replica');
    await replica.query('START TRANSACTION READ ONLY');
    await replica.query('SELECT * FROM sqlc_my_t');
    await replica.query('ROLLBACK');
  });

  const refused = [
    'INSERT INTO sqlc_my_t VALUES (100, 1)',
    'UPDATE sqlc_my_t SET a = 2 WHERE id = -1',
    'DELETE FROM sqlc_my_t WHERE id = -1',
    'REPLACE INTO sqlc_my_t VALUES (1, 1)',
    'INSERT INTO sqlc_my_t VALUES (1, 1) ON DUPLICATE KEY UPDATE a = VALUES(a)',
    'SELECT NEXTVAL(sqlc_my_s)',
    'SELECT NEXT VALUE FOR sqlc_my_s',
    'SELECT SETVAL(sqlc_my_s, 10)',
    'CREATE TABLE sqlc_my_x (a int)',
    'TRUNCATE TABLE sqlc_my_t',
    '/*!40101 DELETE FROM sqlc_my_t WHERE id = -1 */',
    'EXPLAIN UPDATE sqlc_my_t SET a = 2 WHERE id = 1',
    'EXPLAIN DELETE FROM sqlc_my_t WHERE id = 1',
    'EXPLAIN INSERT INTO sqlc_my_t VALUES (5, 5)',
    'SELECT 1; DELETE FROM sqlc_my_t WHERE id = -1',
    'SELECT 1--1\n; DELETE FROM sqlc_my_t WHERE id = -1',
  ];
  for (const sql of refused) {
    test(`primary, and a read_only replica refuses it: ${sql.replace(/\n/g, ' ')}`, async () => {
      assert.equal(classify(sql, 'mysql').target, 'primary');
      await assert.rejects(replica.query(sql), (e) => {
        assert.ok(mysqlRefusedAsReadOnly(e), `not a read-only refusal: ${(e as Error).message}`);
        return true;
      });
    });
  }
});
