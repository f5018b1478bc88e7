import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classify } from '../../src/sql/index.js';
import { check } from './sql-check.js';

describe('mysql: reads go to a replica', () => {
  check('mysql', [
    ['SELECT 1', 'replica', 'select', { verb: 'SELECT', effect: 'none', tables: [] }],
    ['select 1;', 'replica', 'select'],
    ['select `id`, `email` from `users` where `id` = ? limit 1', 'replica', 'select', { tables: ['users'] }],
    ['SELECT * FROM db.t1 STRAIGHT_JOIN t2 ON t1.a = t2.a', 'replica', 'select', { tables: ['db.t1', 't2'] }],
    ['(SELECT 1) UNION ALL (SELECT 2)', 'replica', 'select'],
    ['VALUES ROW(1, 2), ROW(3, 4)', 'replica', 'select'],
    ['TABLE t', 'replica', 'select', { tables: ['t'] }],
    ['WITH a AS (SELECT 1) SELECT * FROM a', 'replica', 'select'],
    ["SELECT INSERT('Quadratic', 3, 4, 'What')", 'replica', 'select'],
    ["SELECT REPLACE(name, 'a', 'b') FROM t", 'replica', 'select'],
    ['SELECT SLEEP(1)', 'replica', 'select'],
    ['SELECT @@session.sql_mode', 'replica', 'select'],
    ['SELECT 1--1', 'replica', 'select'],
    ['SELECT /*+ MAX_EXECUTION_TIME(1000) */ * FROM t', 'replica', 'select'],
  ]);
});

describe('mysql: SHOW, DESCRIBE, EXPLAIN', () => {
  check('mysql', [
    ['SHOW TABLES', 'replica', 'show', { verb: 'SHOW' }],
    ['SHOW CREATE TABLE t', 'replica', 'show'],
    ['SHOW FULL PROCESSLIST', 'replica', 'show'],
    ['SHOW SLAVE STATUS', 'replica', 'show'],
    ['SHOW WARNINGS', 'primary', 'session-function'],
    ['SHOW COUNT(*) ERRORS', 'primary', 'session-function'],
    ['SHOW MASTER STATUS', 'primary', 'primary-status'],
    ['SHOW BINARY LOGS', 'primary', 'primary-status'],
    ['SHOW BINLOG EVENTS', 'primary', 'primary-status'],
    ['DESCRIBE t', 'replica', 'explain', { verb: 'DESCRIBE' }],
    ['DESC t', 'replica', 'explain'],
    ['EXPLAIN SELECT * FROM t', 'replica', 'explain', { tables: ['t'] }],
    ['EXPLAIN FORMAT=JSON SELECT * FROM t', 'replica', 'explain'],
    ['EXPLAIN FORMAT = TREE UPDATE t SET a = 1', 'primary', 'explain-write'],
    ['EXPLAIN DELETE FROM t', 'primary', 'explain-write'],
    ['EXPLAIN INSERT INTO t VALUES (1)', 'primary', 'explain-write'],
    ['EXPLAIN ANALYZE SELECT * FROM t', 'replica', 'explain'],
    ['EXPLAIN ANALYZE FORMAT=TREE SELECT * FROM t', 'replica', 'explain'],
    ['EXPLAIN ANALYZE SELECT * FROM t FOR UPDATE', 'primary', 'explain-analyze'],
    ['EXPLAIN FOR CONNECTION 12', 'replica', 'explain'],
  ]);
});

describe('mysql: writes go to the primary', () => {
  check('mysql', [
    ['INSERT INTO t VALUES (1)', 'primary', 'write', { tables: ['t'] }],
    ['INSERT t (a) VALUES (1) ON DUPLICATE KEY UPDATE a = VALUES(a)', 'primary', 'write', { tables: ['t'] }],
    ['INSERT IGNORE INTO db.t VALUES (1)', 'primary', 'write', { tables: ['db.t'] }],
    ['INSERT LOW_PRIORITY t SET a = 1', 'primary', 'write', { tables: ['t'] }],
    ['REPLACE t SET a = 1', 'primary', 'write', { tables: ['t'] }],
    ['INSERT INTO t (a) SELECT a FROM u', 'primary', 'write', { tables: ['t', 'u'] }],
    ['REPLACE INTO t VALUES (1)', 'primary', 'write', { verb: 'REPLACE', tables: ['t'] }],
    ['UPDATE `orders` SET `status` = ? WHERE `id` = ?', 'primary', 'write', { tables: ['orders'] }],
    ['UPDATE a, b SET a.x = b.x WHERE a.id = b.id', 'primary', 'write', { tables: ['a', 'b'] }],
    ['DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id', 'primary', 'write'],
    ["LOAD DATA INFILE 'x' INTO TABLE t", 'primary', 'write'],
    ['TRUNCATE TABLE t', 'primary', 'write'],
    ['OPTIMIZE TABLE t', 'primary', 'write'],
    ['ANALYZE TABLE t', 'primary', 'write'],
    ['FLUSH PRIVILEGES', 'primary', 'write'],
    ['CALL p(1)', 'primary', 'write', { effect: 'session' }],
    ['DO RELEASE_LOCK("x")', 'primary', 'write', { effect: 'session' }],
    ['CREATE TABLE t (id int)', 'primary', 'ddl'],
    ['ALTER TABLE t ADD c int', 'primary', 'ddl'],
    ['DROP TABLE t', 'primary', 'ddl'],
    ['RENAME TABLE a TO b', 'primary', 'ddl'],
    ["GRANT SELECT ON db.* TO 'u'@'%'", 'primary', 'ddl'],
    ['START SLAVE', 'primary', 'write'],
  ]);
});

describe('mysql: write CTEs, INTO, row locks', () => {
  check('mysql', [
    ['WITH a AS (SELECT id FROM t) UPDATE u JOIN a ON u.id = a.id SET u.x = 1', 'primary', 'write-cte'],
    ['WITH a AS (SELECT 1) DELETE FROM t WHERE id IN (SELECT * FROM a)', 'primary', 'write-cte'],
    ['SELECT a INTO @v FROM t', 'primary', 'select-into', { effect: 'session' }],
    ['SELECT a FROM t INTO @v', 'primary', 'select-into', { effect: 'session' }],
    ["SELECT * FROM t INTO OUTFILE '/tmp/x'", 'primary', 'select-into', { effect: 'none', tables: ['t'] }],
    ["SELECT * FROM t INTO DUMPFILE '/tmp/x'", 'primary', 'select-into'],
    ['SELECT * FROM t FOR UPDATE', 'primary', 'row-lock'],
    ['SELECT * FROM t FOR SHARE', 'primary', 'row-lock'],
    ['SELECT * FROM t LOCK IN SHARE MODE', 'primary', 'row-lock'],
    ['SELECT * FROM t FOR UPDATE SKIP LOCKED', 'primary', 'row-lock'],
    ['SELECT 1 /*! FOR UPDATE */', 'primary', 'row-lock'],
    ['SELECT 1 /*!50001 FOR UPDATE */', 'primary', 'row-lock'],
    ['SELECT 1 /*M!100100 FOR UPDATE */', 'primary', 'row-lock'],
    ['/*!40101 SET NAMES utf8 */', 'primary', 'session-state', { effect: 'session' }],
    ['SELECT @a := 1', 'primary', 'session-state', { effect: 'session' }],
    ['SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 10', 'primary', 'session-state', { effect: 'session' }],
  ]);
});

describe('mysql: functions', () => {
  check('mysql', [
    ['SELECT LAST_INSERT_ID()', 'primary', 'session-function', { effect: 'none' }],
    ['SELECT last_insert_id()', 'primary', 'session-function'],
    ['SELECT FOUND_ROWS()', 'primary', 'session-function'],
    ['SELECT ROW_COUNT()', 'primary', 'session-function'],
    ['SELECT @@identity', 'primary', 'session-function'],
    ['SELECT @@last_insert_id', 'primary', 'session-function'],
    ['SELECT NEXTVAL(s)', 'primary', 'write-function'],
    ['SELECT NEXT VALUE FOR s', 'primary', 'write-function'],
    ['SELECT SETVAL(s, 10)', 'primary', 'write-function'],
    ['SELECT LASTVAL(s)', 'primary', 'session-function'],
    ['SELECT PREVIOUS VALUE FOR s', 'primary', 'session-function'],
    ["SELECT GET_LOCK('x', 10)", 'primary', 'lock-function', { effect: 'session' }],
    ["SELECT RELEASE_LOCK('x')", 'primary', 'lock-function', { effect: 'session' }],
    ["SELECT IS_USED_LOCK('x')", 'primary', 'lock-function'],
    ['SELECT RELEASE_ALL_LOCKS()', 'primary', 'lock-function'],
    ['SELECT last_insert_id FROM t', 'replica', 'select'],
    ["SELECT 'LAST_INSERT_ID()'", 'replica', 'select'],
    ['SELECT `get_lock` FROM t', 'replica', 'select'],
  ]);
});

describe('mysql: quoting and comments hide words', () => {
  check('mysql', [
    ["SELECT 'delete from t; drop table x' FROM t", 'replica', 'select'],
    ['SELECT "delete; for update" FROM t', 'replica', 'select'],
    ["SELECT 'it''s; delete'", 'replica', 'select'],
    ["SELECT 'a\\\\'; ", 'replica', 'select'],
    ['SELECT `delete`, `for update`, `a``; drop` FROM t', 'replica', 'select'],
    ['SELECT 1 # ; delete from t\n FROM t', 'replica', 'select'],
    ['SELECT 1 -- ; delete from t\n FROM t', 'replica', 'select'],
    ['SELECT 1 /* ; delete from t */ FROM t', 'replica', 'select'],
    ["SELECT * FROM t WHERE a = 'FOR UPDATE'", 'replica', 'select'],
    ['SELECT * FROM t /* FOR UPDATE */', 'replica', 'select'],
    ['SELECT * FROM t /*+ FOR UPDATE */', 'replica', 'select'],
    ['SELECT 1 /* a /* b */ FROM t', 'replica', 'select'],
    ['SELECT $$ FROM t', 'replica', 'select'],
  ]);
});

describe('mysql: backslash escapes are read both ways', () => {
  check('mysql', [
    // With backslash escapes (the default) this is one SELECT; under NO_BACKSLASH_ESCAPES it is
    // a SELECT and a DELETE. A read only if it is a read both ways.
    ["SELECT 'a\\' ; DELETE FROM t; -- '", 'primary', 'multi-statement'],
    ["SELECT 'it\\'s'", 'replica', 'select'],
    ['SELECT "say \\"hi\\""', 'replica', 'select'],
  ]);
});

describe('mysql: multi-statement strings', () => {
  check('mysql', [
    ['select 1; delete from t', 'primary', 'multi-statement'],
    ['SELECT 1--1\n; DELETE FROM t', 'primary', 'multi-statement'],
    ["select ';'", 'replica', 'select'],
    ['select 1 # ; delete', 'replica', 'select'],
  ]);
});

describe('mysql: transactions and session state', () => {
  check('mysql', [
    ['BEGIN', 'primary', 'transaction-begin', { effect: 'begin' }],
    ['BEGIN WORK', 'primary', 'transaction-begin'],
    ['START TRANSACTION', 'primary', 'transaction-begin', { effect: 'begin' }],
    ['START TRANSACTION WITH CONSISTENT SNAPSHOT', 'primary', 'transaction-begin'],
    ['START TRANSACTION READ ONLY', 'replica', 'transaction-read-only', { readOnly: true, effect: 'begin' }],
    ['START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY', 'replica', 'transaction-read-only'],
    ['START TRANSACTION READ WRITE', 'primary', 'transaction-begin', { readOnly: false }],
    ['COMMIT', 'primary', 'transaction-end', { effect: 'end' }],
    ['COMMIT WORK AND CHAIN', 'primary', 'transaction-chain', { effect: 'begin' }],
    ['ROLLBACK', 'primary', 'transaction-end', { effect: 'end' }],
    ['ROLLBACK TO SAVEPOINT s', 'primary', 'savepoint', { effect: 'none' }],
    ['SAVEPOINT s', 'primary', 'savepoint'],
    ['RELEASE SAVEPOINT s', 'primary', 'savepoint'],
    ["XA START 'x'", 'primary', 'transaction-begin', { effect: 'begin' }],
    ["XA END 'x'", 'primary', 'session-state', { effect: 'session' }],
    ["XA COMMIT 'x'", 'primary', 'transaction-end', { effect: 'end' }],
    ['SET @a = 1', 'primary', 'session-state', { effect: 'session' }],
    ['SET NAMES utf8mb4', 'primary', 'session-state', { effect: 'session' }],
    ['SET autocommit = 0', 'primary', 'session-state', { effect: 'session' }],
    ['SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', 'primary', 'session-state', { effect: 'session' }],
    ['USE app', 'primary', 'session-state', { effect: 'session', verb: 'USE' }],
    ['LOCK TABLES t READ, u WRITE', 'primary', 'table-lock', { effect: 'session', tables: ['t', 'u'] }],
    ['UNLOCK TABLES', 'primary', 'session-state', { effect: 'session' }],
    ["PREPARE s FROM 'SELECT 1'", 'primary', 'session-state', { effect: 'session' }],
    ['EXECUTE s USING @a', 'primary', 'execute'],
    ['DEALLOCATE PREPARE s', 'primary', 'session-state', { effect: 'session' }],
    ['CREATE TEMPORARY TABLE x (a int)', 'primary', 'session-state', { effect: 'session' }],
    ['DROP TEMPORARY TABLE x', 'primary', 'session-state', { effect: 'session' }],
    ['HANDLER t OPEN', 'primary', 'session-state', { effect: 'session' }],
  ]);
});

describe('mysql: garbage and emptiness go to the primary as unknown', () => {
  check('mysql', [
    ['', 'primary', 'unknown'],
    ['# only a comment', 'primary', 'unknown'],
    ['-- only a comment', 'primary', 'unknown'],
    ["SELECT 'unterminated", 'primary', 'unknown'],
    ['SELECT `unterminated', 'primary', 'unknown'],
    ['SELECT 1 /* unterminated', 'primary', 'unknown'],
  ]);
});

test('dialects differ: # is a comment only in mysql, backticks quote only in mysql', () => {
  assert.equal(classify('SELECT 1 # ; DELETE FROM t', 'mysql').target, 'replica');
  assert.equal(classify('SELECT 1 # ; DELETE FROM t', 'postgres').reason, 'multi-statement');
  assert.equal(classify("SELECT 'a\\'; DELETE FROM t; -- '", 'postgres').reason, 'multi-statement');
});

describe('issue #3: the hard cases named in the issue', () => {
  check('mysql', [
    ['SELECT 1 /*! FOR UPDATE */', 'primary', 'row-lock'],
    ["SELECT 'FOR UPDATE'", 'replica', 'select'],
    ['SELECT * FROM t LOCK IN SHARE MODE', 'primary', 'row-lock'],
    ['SELECT NEXT VALUE FOR s', 'primary', 'write-function'],
    ['SELECT LAST_INSERT_ID()', 'primary', 'session-function'],
    ['SELECT FOUND_ROWS()', 'primary', 'session-function'],
    ['SELECT ROW_COUNT()', 'primary', 'session-function'],
    ["SELECT GET_LOCK('l', 1)", 'primary', 'lock-function', { effect: 'session' }],
    ['WITH a AS (SELECT 1) UPDATE t SET x = 1', 'primary', 'write-cte'],
    ['SELECT x INTO @v FROM t', 'primary', 'select-into', { effect: 'session' }],
    ['START TRANSACTION READ ONLY', 'replica', 'transaction-read-only', { readOnly: true }],
    ['USE app', 'primary', 'session-state', { effect: 'session' }],
    ['select 1; delete from t', 'primary', 'multi-statement'],
  ]);
});
