import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { keywordId, keywordOf, KEYWORD_UPPER, type Keyword } from '../../src/sql/keywords.js';
import {
  Lexer, T_ASSIGN, T_COMMA, T_EOF, T_LPAREN, T_NUMBER, T_OP, T_PARAM, T_QIDENT, T_RPAREN, T_SEMI, T_STRING, T_VAR, T_WORD,
} from '../../src/sql/lexer.js';

function tokens(sql: string, mysql: boolean): [number, string][] {
  const lx = new Lexer();
  lx.reset(sql, mysql);
  const out: [number, string][] = [];
  while (lx.next() !== T_EOF) out.push([lx.kind, sql.slice(lx.start, lx.end)]);
  return out;
}

describe('keywords', () => {
  test('every keyword is found in any case; its neighbours are not', () => {
    for (let id = 1; id < KEYWORD_UPPER.length; id++) {
      const upper = KEYWORD_UPPER[id]!;
      const lower = upper.toLowerCase();
      const mixed = [...lower].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('');
      assert.equal(keywordOf(lower), id, lower);
      assert.equal(keywordOf(upper), id, upper);
      assert.equal(keywordOf(mixed), id, mixed);
      assert.equal(keywordId(lower as Keyword), id);
      assert.equal(keywordOf(`${lower}x`), 0, `${lower}x`);
      assert.equal(keywordOf(`x${lower}`), 0, `x${lower}`);
      assert.equal(keywordOf(`${lower.slice(0, -1)}\u00e9`), 0);
      if (lower.length > 1) assert.equal(keywordOf(lower.slice(1)) === id, false);
    }
  });

  test('near misses of long keywords are not keywords', () => {
    assert.equal(keywordOf('pg_advisory_xact_lock_sharex'), 0);
    assert.equal(keywordOf('xg_advisory_xact_lock_shared'), 0);
    assert.equal(keywordOf('pg-advisory_xact_lock_shared'), 0);
    assert.notEqual(keywordOf('PG_ADVISORY_XACT_LOCK_SHARED'), 0);
  });
});

describe('lexer', () => {
  test('postgres tokens', () => {
    assert.deepEqual(tokens(`SELECT "a""b", E'x\\'y', $1, $t$ ; $t$, 1.5e3 FROM t; -- c\n/* a /* b */ c */(`, false), [
      [T_WORD, 'SELECT'], [T_QIDENT, '"a""b"'], [T_COMMA, ','], [T_STRING, "E'x\\'y'"], [T_COMMA, ','],
      [T_PARAM, '$1'], [T_COMMA, ','], [T_STRING, '$t$ ; $t$'], [T_COMMA, ','], [T_NUMBER, '1.5e3'],
      [T_WORD, 'FROM'], [T_WORD, 't'], [T_SEMI, ';'], [T_LPAREN, '('],
    ]);
  });

  test('mysql tokens', () => {
    assert.deepEqual(tokens("SELECT `a``b`, 'x\\'y', \"q\", @v := @@session.x # c\n-- c\n--x /*!50001 y */)", true), [
      [T_WORD, 'SELECT'], [T_QIDENT, '`a``b`'], [T_COMMA, ','], [T_STRING, "'x\\'y'"], [T_COMMA, ','], [T_STRING, '"q"'],
      [T_COMMA, ','], [T_VAR, '@v'], [T_ASSIGN, ':='], [T_VAR, '@@session.x'], [T_OP, '-'], [T_OP, '-'], [T_WORD, 'x'],
      [T_WORD, 'y'], [T_RPAREN, ')'],
    ]);
  });

  test('unterminated constructs are reported', () => {
    for (const [sql, mysql] of [["'abc", false], ['"abc', false], ['$$ abc', false], ['/* abc', false], ['`abc', true], ['/* abc', true]] as const) {
      const lx = new Lexer();
      lx.reset(sql, mysql);
      while (lx.next() !== T_EOF);
      assert.equal(lx.unterminated, true, sql);
    }
  });

  test('a lone $ in postgres is an operator, not a dollar quote', () => {
    assert.deepEqual(tokens('SELECT $ 1', false).map(([k]) => k), [T_WORD, T_OP, T_NUMBER]);
  });
});
