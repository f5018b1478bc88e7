import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DecisionCache } from '../../src/sql/cache.js';
import { classify, createClassifier } from '../../src/sql/index.js';

describe('DecisionCache', () => {
  test('returns what was stored', () => {
    const c = new DecisionCache<number>(10);
    assert.equal(c.get('a'), undefined);
    assert.equal(c.set('a', 1), 1);
    assert.equal(c.get('a'), 1);
  });

  test('never holds more than its capacity', () => {
    const c = new DecisionCache<number>(100);
    for (let i = 0; i < 10_000; i++) {
      c.set(`k${i}`, i);
      if (i % 7 === 0) c.get(`k${i >> 1}`);
      assert.ok(c.size <= 100, `size ${c.size} after ${i}`);
    }
  });

  test('keeps recently used keys and drops old ones', () => {
    const c = new DecisionCache<number>(10);
    c.set('hot', 1);
    for (let i = 0; i < 100; i++) {
      c.set(`cold${i}`, i);
      assert.equal(c.get('hot'), 1, `hot key lost after ${i} inserts`);
    }
    assert.equal(c.get('cold0'), undefined);
  });

  test('clear empties it', () => {
    const c = new DecisionCache<number>(4);
    c.set('a', 1);
    c.clear();
    assert.equal(c.size, 0);
    assert.equal(c.get('a'), undefined);
  });
});

describe('createClassifier', () => {
  test('gives the same decisions as classify', () => {
    const cl = createClassifier({ dialect: 'postgres' });
    for (const sql of ['SELECT 1', 'SELECT * FROM t FOR UPDATE', 'BEGIN READ ONLY', 'select 1; delete from t']) {
      assert.deepEqual(cl.classify(sql), classify(sql, 'postgres'));
      assert.deepEqual(cl.classify(sql), classify(sql, 'postgres'));
    }
  });

  test('a repeated text returns the same frozen decision', () => {
    const cl = createClassifier({ dialect: 'mysql' });
    const a = cl.classify('SELECT * FROM t WHERE id = ?');
    const b = cl.classify('SELECT * FROM t WHERE id = ?');
    assert.equal(a, b);
    assert.ok(Object.isFrozen(a));
    assert.ok(Object.isFrozen(a.tables));
  });

  test('texts longer than maxCachedLength are classified each time, not kept', () => {
    const cl = createClassifier({ dialect: 'postgres', maxCachedLength: 20 });
    const long = `SELECT ${'a, '.repeat(20)}b FROM t`;
    const a = cl.classify(long);
    const b = cl.classify(long);
    assert.notEqual(a, b);
    assert.deepEqual(a, b);
  });

  test('cacheSize 0 turns the cache off', () => {
    const cl = createClassifier({ dialect: 'postgres', cacheSize: 0 });
    assert.notEqual(cl.classify('SELECT 1'), cl.classify('SELECT 1'));
  });

  test('write functions apply through the cache', () => {
    const cl = createClassifier({ dialect: 'postgres', writeFunctions: ['bump'] });
    assert.equal(cl.classify('SELECT bump(1)').reason, 'write-function');
    assert.equal(cl.classify('SELECT bump(1)').reason, 'write-function');
    assert.equal(createClassifier({ dialect: 'postgres' }).classify('SELECT bump(1)').reason, 'select');
  });

  test('bad options are configuration errors', () => {
    assert.throws(() => createClassifier({ dialect: 'sqlite' as 'postgres' }), { code: 'CONFIG_INVALID', message: /postgres.*mysql/ });
    assert.throws(() => createClassifier({ dialect: 'postgres', cacheSize: -1 }), { code: 'CONFIG_INVALID', message: /cacheSize/ });
    assert.throws(() => createClassifier({ dialect: 'postgres', writeFunctions: [''] }), { code: 'CONFIG_INVALID', message: /writeFunctions/ });
  });
});
