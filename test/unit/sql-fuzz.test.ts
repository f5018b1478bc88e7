import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classify, type Dialect } from '../../src/sql/index.js';

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'SELECT', 'select', 'FROM', 't', 'WHERE', 'FOR', 'UPDATE', 'SHARE', 'INSERT', 'INTO', 'DELETE', 'WITH', 'AS',
  '(', ')', ';', ',', '.', "'", '"', '`', '$$', '$a$', '$1', '--', '#', '/*', '*/', '/*!', '\\', '\n', ' ', '@', ':=',
  'nextval', 'E', "E'", 'EXPLAIN', 'ANALYZE', 'BEGIN', 'READ', 'ONLY', '\u00e9', '\ud800', '0', '1.5',
];
const DIALECTS: Dialect[] = ['postgres', 'mysql'];
const ROLES = new Set(['primary', 'replica']);
const EFFECTS = new Set(['begin', 'end', 'session', 'none']);

describe('classify on arbitrary text', () => {
  test('never throws and always answers with a well-formed decision', () => {
    const next = rng(42);
    for (let i = 0; i < 20_000; i++) {
      const n = 1 + Math.floor(next() * 20);
      let sql = '';
      for (let j = 0; j < n; j++) sql += PIECES[Math.floor(next() * PIECES.length)]! + (next() < 0.5 ? ' ' : '');
      for (const dialect of DIALECTS) {
        const c = classify(sql, dialect);
        assert.ok(ROLES.has(c.target), sql);
        assert.ok(EFFECTS.has(c.effect), sql);
        assert.equal(typeof c.reason, 'string');
        assert.ok(Array.isArray(c.tables));
        if (c.target === 'replica') {
          assert.ok(['select', 'show', 'explain', 'transaction-read-only'].includes(c.reason), `${c.reason} ${sql}`);
        }
      }
    }
  });

  test('write words hidden in a string, comment or quoted name never turn a read into a write', () => {
    const next = rng(7);
    const hidden = ['delete from t', '; drop table t', 'for update', "nextval('s')", 'insert into t', 'get_lock(1)'];
    for (let i = 0; i < 2_000; i++) {
      const word = hidden[Math.floor(next() * hidden.length)]!;
      const wraps: [Dialect, string][] = [
        ['postgres', `'${word.replace(/'/g, "''")}'`],
        ['postgres', `$$${word}$$`],
        ['postgres', `/* ${word} /* nested */ */ 1`],
        ['postgres', `"${word.replace(/"/g, '""')}"`],
        ['mysql', `'${word.replace(/'/g, "\\'")}'`],
        ['mysql', `\`${word}\``],
        ['mysql', `1 # ${word}\n`],
        ['mysql', `1 -- ${word}\n`],
      ];
      const [dialect, hide] = wraps[Math.floor(next() * wraps.length)]!;
      const sql = `SELECT ${hide} FROM t WHERE id = ${Math.floor(next() * 100)}`;
      assert.equal(classify(sql, dialect).target, 'replica', `${dialect}: ${sql}`);
    }
  });

  test('huge and deeply nested texts stay linear and never overflow the stack', () => {
    for (const dialect of DIALECTS) {
      const big = `SELECT ${'a, '.repeat(200_000)}b FROM t`;
      const started = Date.now();
      assert.equal(classify(big, dialect).target, 'replica');
      assert.equal(classify('('.repeat(100_000) + 'SELECT 1' + ')'.repeat(100_000), dialect).target, 'replica');
      assert.equal(classify('EXPLAIN '.repeat(100_000) + 'SELECT 1', dialect).target, 'primary');
      assert.equal(classify('SELECT 1;'.repeat(50_000), dialect).reason, 'multi-statement');
      const many = `SELECT * FROM ${Array.from({ length: 5_000 }, (_, i) => `t${i}`).join(', ')}`;
      assert.equal(classify(many, dialect).tables.length, 256);
      // Generous for a loaded CI box; a quadratic pass over these texts would take minutes.
      assert.ok(Date.now() - started < 30_000, 'took too long');
    }
  });
});
