import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classify } from '../../src/sql/index.js';
import { check } from './sql-check.js';

describe('postgres: reads go to a replica', () => {
  check('postgres', [
    ['SELECT 1', 'replica', 'select', { verb: 'SELECT', effect: 'none', readOnly: false, tables: [] }],
    ['select 1;', 'replica', 'select'],
    ['select 1 ;  ; ', 'replica', 'select'],
    ['  (SELECT 1) UNION (SELECT 2)', 'replica', 'select', { verb: 'SELECT' }],
    ['VALUES (1), (2)', 'replica', 'select', { verb: 'VALUES' }],
    ['TABLE users', 'replica', 'select', { verb: 'TABLE', tables: ['users'] }],
    ['WITH a AS (SELECT 1) SELECT * FROM a', 'replica', 'select', { verb: 'WITH' }],
    ['WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r', 'replica', 'select'],
    ['SELECT pg_sleep(1)', 'replica', 'select'],
    ['SELECT count(*) FROM orders WHERE status = $1', 'replica', 'select', { tables: ['orders'] }],
    ['SELECT * FROM t WHERE id = $1 FOR', 'replica', 'select'],
    ["SELECT substring(name FROM 2 FOR 3) FROM t", 'replica', 'select', { tables: ['t'] }],
    ['select "update", "delete" from "insert"', 'replica', 'select', { tables: ['insert'] }],
    ['SELECT txid_current_if_assigned()', 'replica', 'select'],
    ['/* leading comment */ SELECT 1', 'replica', 'select'],
    ['-- line comment\nSELECT 1', 'replica', 'select'],
  ]);
});

describe('postgres: SHOW and EXPLAIN', () => {
  check('postgres', [
    ['SHOW search_path', 'replica', 'show', { verb: 'SHOW' }],
    ['SHOW ALL', 'replica', 'show'],
    ['EXPLAIN SELECT * FROM t', 'replica', 'explain', { verb: 'EXPLAIN', tables: ['t'] }],
    ['EXPLAIN VERBOSE SELECT 1', 'replica', 'explain'],
    ['EXPLAIN (FORMAT JSON, COSTS off) SELECT 1', 'replica', 'explain'],
    ['EXPLAIN INSERT INTO t VALUES (1)', 'replica', 'explain'],
    ['EXPLAIN ANALYZE SELECT * FROM t', 'replica', 'explain'],
    ['EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM t', 'replica', 'explain'],
    ['EXPLAIN ANALYZE INSERT INTO t VALUES (1)', 'primary', 'explain-analyze', { tables: ['t'] }],
    ['EXPLAIN ANALYSE VERBOSE DELETE FROM t', 'primary', 'explain-analyze'],
    ['EXPLAIN (ANALYZE true, BUFFERS) UPDATE t SET a = 1', 'primary', 'explain-analyze'],
    ['EXPLAIN (ANALYZE) SELECT nextval(\'s\')', 'primary', 'explain-analyze'],
    ['EXPLAIN (ANALYZE false) INSERT INTO t VALUES (1)', 'replica', 'explain'],
    ['EXPLAIN (ANALYZE off) DELETE FROM t', 'replica', 'explain'],
    ['EXPLAIN (ANALYZE 0) DELETE FROM t', 'replica', 'explain'],
    ["EXPLAIN ANALYZE SELECT pg_advisory_lock(1)", 'primary', 'explain-analyze', { effect: 'session' }],
    ['EXPLAIN SELECT 1; DELETE FROM t', 'primary', 'multi-statement'],
    ['EXPLAIN', 'primary', 'unknown'],
  ]);
});

describe('postgres: writes go to the primary', () => {
  check('postgres', [
    ['INSERT INTO t VALUES (1)', 'primary', 'write', { verb: 'INSERT', tables: ['t'], effect: 'none' }],
    ['insert into s.t (a, b) values ($1, $2) returning id', 'primary', 'write', { tables: ['s.t'] }],
    ['INSERT INTO t SELECT * FROM u ON CONFLICT (id) DO UPDATE SET a = excluded.a', 'primary', 'write', { tables: ['t', 'u'] }],
    ['UPDATE t SET a = 1 WHERE id = 2', 'primary', 'write', { tables: ['t'] }],
    ['UPDATE ONLY t SET a = 1 FROM u WHERE t.id = u.id', 'primary', 'write', { tables: ['t', 'u'] }],
    ['DELETE FROM t WHERE id = 1', 'primary', 'write', { verb: 'DELETE', tables: ['t'] }],
    ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a', 'primary', 'write', { tables: ['t', 's'] }],
    ['COPY t FROM STDIN', 'primary', 'write', { tables: ['t'] }],
    ['COPY (SELECT 1) TO STDOUT', 'primary', 'write'],
    ['TRUNCATE t, u', 'primary', 'write', { tables: ['t', 'u'] }],
    ['TRUNCATE TABLE t', 'primary', 'write', { tables: ['t'] }],
    ['VACUUM ANALYZE t', 'primary', 'write'],
    ['ANALYZE t', 'primary', 'write'],
    ['REFRESH MATERIALIZED VIEW mv', 'primary', 'write'],
    ['CLUSTER t', 'primary', 'write'],
    ['REINDEX TABLE t', 'primary', 'write'],
    ['CHECKPOINT', 'primary', 'write'],
    ["NOTIFY chan, 'payload'", 'primary', 'write'],
    ['CALL proc(1)', 'primary', 'write', { effect: 'session' }],
    ["DO $$ BEGIN PERFORM 1; END $$", 'primary', 'write', { effect: 'session' }],
    ['CREATE TABLE t (id int)', 'primary', 'ddl', { tables: ['t'] }],
    ['CREATE TABLE IF NOT EXISTS t (id int)', 'primary', 'ddl', { tables: ['t'] }],
    ['ALTER TABLE t ADD COLUMN c int', 'primary', 'ddl', { tables: ['t'] }],
    ['DROP TABLE IF EXISTS a, b', 'primary', 'ddl', { tables: ['a', 'b'] }],
    ['CREATE INDEX i ON t (a)', 'primary', 'ddl'],
    ["COMMENT ON TABLE t IS 'x'", 'primary', 'ddl'],
    ['GRANT SELECT ON t TO bob', 'primary', 'ddl'],
    ['REVOKE ALL ON t FROM bob', 'primary', 'ddl'],
    ['LOCK TABLE t IN ACCESS EXCLUSIVE MODE', 'primary', 'table-lock', { effect: 'session', tables: ['t'] }],
    ['EXECUTE plan(1)', 'primary', 'execute'],
    ['FETCH 10 FROM c', 'primary', 'cursor'],
    ['CLOSE c', 'primary', 'cursor'],
  ]);
});

describe('postgres: write CTEs, SELECT INTO, row locks', () => {
  check('postgres', [
    ['WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', 'primary', 'write-cte', { verb: 'WITH', tables: ['t'] }],
    ['WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT count(*) FROM u', 'primary', 'write-cte', { tables: ['t'] }],
    ['WITH i AS MATERIALIZED (INSERT INTO t VALUES (1) RETURNING id) SELECT id FROM i', 'primary', 'write-cte'],
    ['WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a', 'primary', 'write-cte', { tables: ['t'] }],
    ['WITH a AS (SELECT 1), b AS (MERGE INTO t USING a ON true WHEN MATCHED THEN DELETE) SELECT 1', 'primary', 'write-cte'],
    ['SELECT * INTO new_t FROM t', 'primary', 'select-into', { tables: ['new_t', 't'] }],
    ['SELECT a INTO TEMP x FROM t', 'primary', 'select-into', { effect: 'session', tables: ['x', 't'] }],
    ['SELECT a INTO TEMPORARY TABLE x FROM t', 'primary', 'select-into', { effect: 'session', tables: ['x', 't'] }],
    ['SELECT a INTO UNLOGGED x FROM t', 'primary', 'select-into', { effect: 'none', tables: ['x', 't'] }],
    ['SELECT * FROM t FOR UPDATE', 'primary', 'row-lock', { effect: 'none' }],
    ['SELECT * FROM t FOR UPDATE OF t SKIP LOCKED', 'primary', 'row-lock'],
    ['SELECT * FROM t FOR NO KEY UPDATE NOWAIT', 'primary', 'row-lock'],
    ['SELECT * FROM t FOR SHARE', 'primary', 'row-lock'],
    ['SELECT * FROM t FOR KEY SHARE', 'primary', 'row-lock'],
    ['select * from t for update', 'primary', 'row-lock'],
    ['SELECT * FROM t FOR/* c */UPDATE', 'primary', 'row-lock'],
    ['SELECT * FROM t FOR\n  UPDATE', 'primary', 'row-lock'],
    ['SELECT * FROM t LIMIT 1 FOR UPDATE', 'primary', 'row-lock'],
    ['WITH x AS (SELECT * FROM t FOR UPDATE) SELECT * FROM x', 'primary', 'row-lock'],
    ['SELECT * FROM t "for" UPDATE', 'primary', 'write'],
    ['SELECT * FROM (SELECT * FROM t FOR UPDATE) s', 'primary', 'row-lock'],
  ]);
});

describe('postgres: functions that write or depend on the session', () => {
  check('postgres', [
    ["select nextval('s')", 'primary', 'write-function', { effect: 'none' }],
    ["SELECT NEXTVAL('s')", 'primary', 'write-function'],
    ["SELECT pg_catalog.nextval('s')", 'primary', 'write-function'],
    ["SELECT \"nextval\"('s')", 'primary', 'write-function'],
    ["SELECT setval('s', 10)", 'primary', 'write-function'],
    ["SELECT currval('s')", 'primary', 'session-function', { effect: 'none' }],
    ['SELECT lastval()', 'primary', 'session-function'],
    ["SELECT pg_notify('c', 'x')", 'primary', 'write-function'],
    ['SELECT txid_current()', 'primary', 'write-function'],
    ['SELECT pg_current_xact_id()', 'primary', 'write-function'],
    ["SELECT set_config('search_path', 'x', false)", 'primary', 'session-function', { effect: 'session' }],
    ['SELECT pg_advisory_lock(1)', 'primary', 'lock-function', { effect: 'session' }],
    ['SELECT pg_try_advisory_lock(1, 2)', 'primary', 'lock-function', { effect: 'session' }],
    ['SELECT pg_advisory_unlock_all()', 'primary', 'lock-function', { effect: 'session' }],
    ['SELECT pg_advisory_xact_lock(1)', 'primary', 'lock-function', { effect: 'none' }],
    ['SELECT pg_try_advisory_xact_lock_shared(1)', 'primary', 'lock-function', { effect: 'none' }],
    ["SELECT lo_import('/tmp/x')", 'primary', 'write-function'],
    ['SELECT id, nextval FROM t', 'replica', 'select'],
    ['SELECT "nextval" FROM t', 'replica', 'select'],
    ["SELECT 'nextval(1)'", 'replica', 'select'],
    ['SELECT count(*) FROM t WHERE x = (SELECT nextval(\'s\'))', 'primary', 'write-function'],
    ["SELECT * FROM nextval('s')", 'primary', 'write-function', { tables: [] }],
    ["VALUES (nextval('s'))", 'primary', 'write-function'],
    ["SELECT nextval ('s')", 'primary', 'write-function'],
    ["SELECT nextval/* c */('s')", 'primary', 'write-function'],
    ['SELECT pg_terminate_backend(123)', 'primary', 'write-function'],
  ]);
});

describe('postgres: user write functions', () => {
  check('postgres', [
    ['SELECT audit_log($1)', 'primary', 'write-function'],
    ['SELECT AUDIT_LOG($1)', 'primary', 'write-function'],
    ['SELECT app.audit_log($1)', 'primary', 'write-function'],
    ['SELECT billing.bump($1)', 'primary', 'write-function'],
    ['SELECT other.bump($1)', 'replica', 'select'],
    ['SELECT bump($1)', 'replica', 'select'],
    ['SELECT audit_log FROM t', 'replica', 'select'],
  ], { writeFunctions: ['audit_log', 'Billing.Bump'] });
});

describe('postgres: quoting and comments hide words', () => {
  check('postgres', [
    ["SELECT 'delete from t; drop table x' FROM t", 'replica', 'select', { tables: ['t'] }],
    ["SELECT 'it''s; delete' FROM t", 'replica', 'select'],
    ['SELECT 1 /* delete /* nested */ insert; */ FROM t', 'replica', 'select'],
    ['SELECT 1 -- ; delete from t\n FROM t', 'replica', 'select'],
    ["SELECT $$ ; delete $$, $x$ for update $x$", 'replica', 'select'],
    ["SELECT $body$ $$ ; drop table t; $$ $body$", 'replica', 'select'],
    ["SELECT E'\\' ; delete from t' FROM t", 'replica', 'select'],
    ["SELECT e'\\\\', 'x'", 'replica', 'select'],
    ['SELECT "delete", "for update", "a""; drop" FROM t', 'replica', 'select'],
    ["SELECT * FROM t WHERE a = 'FOR UPDATE'", 'replica', 'select'],
    ['SELECT * FROM t /* FOR UPDATE */', 'replica', 'select'],
    ['SELECT $1, $2 FROM t', 'replica', 'select'],
    ["SELECT a$b FROM t", 'replica', 'select'],
    ["SELECT 'a\\'; DELETE FROM t; --'", 'primary', 'multi-statement'],
    ['SELECT `x` FROM t', 'replica', 'select'],
    ['SELECT 1 # not a comment in postgres', 'replica', 'select'],
  ]);
});

describe('postgres: multi-statement strings', () => {
  check('postgres', [
    ['select 1; delete from t', 'primary', 'multi-statement', { verb: 'SELECT', effect: 'none', tables: ['t'] }],
    ['select 1; select 2', 'primary', 'multi-statement'],
    ['SET a = 1; SELECT 1', 'primary', 'multi-statement', { effect: 'session' }],
    ['BEGIN; INSERT INTO t VALUES (1); COMMIT;', 'primary', 'multi-statement', { effect: 'session' }],
    ["select ';'; ", 'replica', 'select'],
    ['select 1 -- ; delete', 'replica', 'select'],
  ]);
});

describe('postgres: transactions and session state', () => {
  check('postgres', [
    ['BEGIN', 'primary', 'transaction-begin', { effect: 'begin', readOnly: false }],
    ['begin work', 'primary', 'transaction-begin', { effect: 'begin' }],
    ['START TRANSACTION', 'primary', 'transaction-begin', { effect: 'begin', verb: 'START' }],
    ['BEGIN READ ONLY', 'replica', 'transaction-read-only', { effect: 'begin', readOnly: true }],
    ['START TRANSACTION READ ONLY', 'replica', 'transaction-read-only', { readOnly: true }],
    ['BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY', 'replica', 'transaction-read-only', { readOnly: true }],
    ['BEGIN TRANSACTION ISOLATION LEVEL READ COMMITTED READ ONLY', 'replica', 'transaction-read-only'],
    ['BEGIN ISOLATION LEVEL READ COMMITTED', 'primary', 'transaction-begin', { readOnly: false }],
    ['BEGIN READ WRITE', 'primary', 'transaction-begin', { readOnly: false }],
    ['BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE', 'primary', 'transaction-begin', { readOnly: true }],
    ['COMMIT', 'primary', 'transaction-end', { effect: 'end' }],
    ['END', 'primary', 'transaction-end', { effect: 'end' }],
    ['ROLLBACK', 'primary', 'transaction-end', { effect: 'end' }],
    ['ABORT', 'primary', 'transaction-end', { effect: 'end' }],
    ['COMMIT AND CHAIN', 'primary', 'transaction-chain', { effect: 'begin' }],
    ['COMMIT AND NO CHAIN', 'primary', 'transaction-end', { effect: 'end' }],
    ['ROLLBACK TO SAVEPOINT a', 'primary', 'savepoint', { effect: 'none' }],
    ['ROLLBACK TO a', 'primary', 'savepoint', { effect: 'none' }],
    ['ROLLBACK WORK TO SAVEPOINT a', 'primary', 'savepoint', { effect: 'none' }],
    ['SAVEPOINT a', 'primary', 'savepoint', { effect: 'none' }],
    ['RELEASE SAVEPOINT a', 'primary', 'savepoint', { effect: 'none' }],
    ["PREPARE TRANSACTION 'x'", 'primary', 'transaction-end', { effect: 'end' }],
    ["COMMIT PREPARED 'x'", 'primary', 'write', { effect: 'none' }],
    ["ROLLBACK PREPARED 'x'", 'primary', 'write', { effect: 'none' }],
    ['SET search_path TO app', 'primary', 'session-state', { effect: 'session' }],
    ['SET LOCAL statement_timeout = 1000', 'primary', 'session-state', { effect: 'session' }],
    ['SET TRANSACTION READ ONLY', 'primary', 'session-state', { effect: 'session' }],
    ['RESET ALL', 'primary', 'session-state', { effect: 'session' }],
    ['DISCARD ALL', 'primary', 'session-state', { effect: 'session' }],
    ['LISTEN chan', 'primary', 'session-state', { effect: 'session' }],
    ['UNLISTEN *', 'primary', 'session-state', { effect: 'session' }],
    ['PREPARE q (int) AS SELECT $1', 'primary', 'session-state', { effect: 'session' }],
    ['DEALLOCATE q', 'primary', 'session-state', { effect: 'session' }],
    ['DECLARE c CURSOR WITH HOLD FOR SELECT 1', 'primary', 'session-state', { effect: 'session' }],
    ['CREATE TEMP TABLE x (a int)', 'primary', 'session-state', { effect: 'session' }],
    ['CREATE TEMPORARY TABLE x AS SELECT 1', 'primary', 'session-state', { effect: 'session' }],
    ['CREATE LOCAL TEMP TABLE x (a int)', 'primary', 'session-state', { effect: 'session' }],
    ['CREATE OR REPLACE TEMP VIEW v AS SELECT 1', 'primary', 'session-state', { effect: 'session' }],
    ["LOAD 'auto_explain'", 'primary', 'session-state', { effect: 'session' }],
  ]);
});

describe('postgres: garbage and emptiness go to the primary as unknown', () => {
  check('postgres', [
    ['', 'primary', 'unknown', { verb: '', effect: 'none' }],
    ['   \n\t ', 'primary', 'unknown'],
    ['-- only a comment', 'primary', 'unknown'],
    ['/* only a comment */', 'primary', 'unknown'],
    [';', 'primary', 'unknown'],
    ['FOO BAR', 'primary', 'unknown', { verb: 'FOO' }],
    ['42', 'primary', 'unknown', { verb: '' }],
    ["SELECT 'unterminated", 'primary', 'unknown'],
    ['SELECT 1 /* unterminated', 'primary', 'unknown'],
    ['SELECT $$ unterminated', 'primary', 'unknown'],
    ['SELECT "unterminated', 'primary', 'unknown'],
  ]);
});

describe('postgres: tables', () => {
  check('postgres', [
    ['SELECT * FROM a, b AS x, public."CamelCase" c JOIN d ON true LEFT JOIN LATERAL (SELECT 1) l ON true', 'replica', 'select', { tables: ['a', 'b', 'public.CamelCase', 'd'] }],
    ['SELECT * FROM generate_series(1, 3) g, t', 'replica', 'select', { tables: ['t'] }],
    ['SELECT a FROM t ORDER BY a, b', 'replica', 'select', { tables: ['t'] }],
    ['SELECT extract(year FROM ts) FROM t', 'replica', 'select', { tables: ['t'] }],
    ['SELECT a IS DISTINCT FROM b FROM t', 'replica', 'select', { tables: ['t'] }],
    ['SELECT * FROM ONLY parent', 'replica', 'select', { tables: ['parent'] }],
    ['WITH x AS (SELECT * FROM t) SELECT * FROM x JOIN u USING (id)', 'replica', 'select', { tables: ['t', 'u'] }],
    ['SELECT * FROM Users', 'replica', 'select', { tables: ['users'] }],
    ['WITH a AS (WITH b AS (SELECT * FROM u) SELECT * FROM b), c AS (SELECT 2) SELECT * FROM a, c, t', 'replica', 'select', { tables: ['u', 't'] }],
    ['SELECT * FROM (WITH x AS (SELECT * FROM u) SELECT * FROM x) s JOIN t ON true', 'replica', 'select', { tables: ['u', 't'] }],
  ]);
});

test('classify is pure: the same text gives equal results', () => {
  assert.deepEqual(classify('SELECT * FROM t', 'postgres'), classify('SELECT * FROM t', 'postgres'));
});

test('an unknown dialect is a configuration error', () => {
  assert.throws(() => classify('SELECT 1', 'oracle' as 'postgres'), { code: 'CONFIG_INVALID' });
});

describe('postgres: user write functions, qualified in other ways', () => {
  check('postgres', [
    ['SELECT "Billing".bump(1)', 'primary', 'write-function'],
    ['SELECT billing . bump (1)', 'primary', 'write-function'],
    ['SELECT x.billing.bump(1)', 'primary', 'write-function'],
    ['SELECT "billing"."bump"(1)', 'primary', 'write-function'],
  ], { writeFunctions: ['billing.bump'] });
});

describe('postgres: backslashes are read both ways (standard_conforming_strings on and off)', () => {
  check('postgres', [
    // On (the default): two strings, a read. Off: one string, then a DELETE. Primary.
    ["SELECT 'a\\' , '; DELETE FROM t; --'", 'primary', 'multi-statement'],
    // Off, the second reading leaves a string open: a syntax error there, nothing runs.
    ["SELECT 'C:\\'", 'replica', 'select'],
    ["SELECT E'it\\'s'", 'replica', 'select'],
    ["SELECT 'a\\\\b'", 'replica', 'select'],
  ]);
});

describe('postgres: more clause shapes', () => {
  check('postgres', [
    ['SELECT * FROM t FOR READ ONLY', 'replica', 'select'],
    ['SELECT * FROM t OFFSET 1 FETCH FIRST 1 ROWS ONLY', 'replica', 'select'],
    ['SELECT * FROM t OFFSET 1 FETCH FIRST 1 ROWS ONLY FOR UPDATE', 'primary', 'row-lock'],
    ['EXPLAIN (ANALYZE, BUFFERS false) SELECT 1', 'replica', 'explain'],
    ['EXPLAIN (ANALYZE, BUFFERS false) DELETE FROM t', 'primary', 'explain-analyze'],
    ['EXPLAIN (ANALYZE) (SELECT 1)', 'replica', 'explain'],
    ['EXPLAIN EXPLAIN SELECT 1', 'primary', 'unknown'],
    ['ROLLBACK AND NO CHAIN', 'primary', 'transaction-end', { effect: 'end' }],
    ['ROLLBACK TRANSACTION TO SAVEPOINT a', 'primary', 'savepoint'],
    ['RELEASE a', 'primary', 'savepoint'],
    ['END TRANSACTION', 'primary', 'transaction-end'],
    ['BEGIN TRANSACTION READ ONLY;', 'replica', 'transaction-read-only'],
    ['BEGIN READ ONLY, READ WRITE', 'primary', 'transaction-begin'],
    ['DECLARE c CURSOR FOR SELECT * FROM t FOR UPDATE', 'primary', 'session-state'],
    ['SET SESSION AUTHORIZATION bob', 'primary', 'session-state'],
    ['DISCARD TEMP', 'primary', 'session-state'],
    ['UPDATE t SET a = 1 RETURNING pg_advisory_lock(1)', 'primary', 'write', { effect: 'session' }],
  ]);
});

describe('issue #3: the hard cases named in the issue', () => {
  check('postgres', [
    ['WITH a AS (SELECT 1) SELECT * FROM a', 'replica', 'select'],
    ['WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', 'primary', 'write-cte'],
    ['select 1; delete from t', 'primary', 'multi-statement'],
    ['select 1;', 'replica', 'select'],
    ["select nextval('s')", 'primary', 'write-function'],
    ['SELECT "nextval"', 'replica', 'select'],
    ["SELECT 'FOR UPDATE' FROM t", 'replica', 'select'],
    ['SELECT * INTO new_t FROM t', 'primary', 'select-into'],
    ['EXPLAIN ANALYZE INSERT INTO t VALUES (1)', 'primary', 'explain-analyze'],
    ['EXPLAIN ANALYZE SELECT 1', 'replica', 'explain'],
    ['SELECT pg_advisory_lock(1)', 'primary', 'lock-function', { effect: 'session' }],
    ['BEGIN READ ONLY', 'replica', 'transaction-read-only', { effect: 'begin', readOnly: true }],
    ['this is not sql', 'primary', 'unknown'],
  ]);
});
