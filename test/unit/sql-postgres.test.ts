import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classify } from '../../src/sql/index.js';

type Row = readonly [sql: string, target: 'primary' | 'replica', reason: string];

function check(rows: readonly Row[]): void {
  for (const [sql, target, reason] of rows) {
    test(JSON.stringify(sql), () => {
      const c = classify(sql, 'postgres');
      assert.deepEqual({ target: c.target, reason: c.reason }, { target, reason });
    });
  }
}

describe('postgres: reads', () => {
  check([
    ['SELECT 1', 'replica', 'select'],
    ['select 1;', 'replica', 'select'],
    ['  (SELECT 1) UNION (SELECT 2)', 'replica', 'select'],
    ['VALUES (1), (2)', 'replica', 'select'],
    ['TABLE users', 'replica', 'select'],
    ['WITH a AS (SELECT 1) SELECT * FROM a', 'replica', 'select'],
    ['SHOW search_path', 'replica', 'show'],
    ['EXPLAIN SELECT * FROM t', 'replica', 'explain'],
    ['EXPLAIN ANALYZE SELECT * FROM t', 'replica', 'explain'],
    ["SELECT pg_sleep(1)", 'replica', 'select'],
  ]);
});

describe('postgres: writes', () => {
  check([
    ['INSERT INTO t VALUES (1)', 'primary', 'write'],
    ['WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', 'primary', 'write-cte'],
    ['select 1; delete from t', 'primary', 'multi-statement'],
    ["select nextval('s')", 'primary', 'write-function'],
    ['SELECT * FROM t FOR UPDATE', 'primary', 'row-lock'],
    ['SELECT * FROM t FOR NO KEY UPDATE', 'primary', 'row-lock'],
    ['SELECT * FROM t FOR KEY SHARE', 'primary', 'row-lock'],
    ['SELECT * INTO new_t FROM t', 'primary', 'select-into'],
    ['EXPLAIN ANALYZE INSERT INTO t VALUES (1)', 'primary', 'explain-analyze'],
    ['', 'primary', 'unknown'],
    ['-- only a comment', 'primary', 'unknown'],
  ]);
});

describe('postgres: quoting hides words', () => {
  check([
    ["SELECT 'delete from t; drop table x' FROM t", 'replica', 'select'],
    ['SELECT 1 /* delete /* nested */ insert */ FROM t', 'replica', 'select'],
    ["SELECT $$ ; delete $$, $x$ for update $x$", 'replica', 'select'],
    ["SELECT E'\\' ; delete from t' FROM t", 'replica', 'select'],
    ['SELECT "delete", "for update" FROM t', 'replica', 'select'],
    ['SELECT "nextval" FROM t', 'replica', 'select'],
  ]);
});
