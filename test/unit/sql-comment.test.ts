// sqlcommenter-style comments (cluster option `sqlComment`): the format of the spec, where the
// comment goes, and which statements are left alone (prepared, already commented, unreadable).
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendSqlComment, serializeSqlComment } from '../../src/routing/sql-comment.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import type { ClusterConfig } from '../../src/index.js';
import { FakeMysqlPool, FakePgPool, fakeCluster } from './routing-fakes.js';

function pgSetup(extra: Partial<ClusterConfig>, replicas = 1) {
  const { cluster, net } = fakeCluster('postgres', replicas, extra);
  const pool = createPgPool(cluster, { createPool: (config, alias) => new FakePgPool(net, alias, config) });
  return { cluster, net, pool };
}

function mysqlSetup(extra: Partial<ClusterConfig>) {
  const { cluster, net } = fakeCluster('mysql', 1, extra);
  const pool = createMysqlPool(cluster, { createPool: (config, alias) => new FakeMysqlPool(net, alias, config) });
  return { cluster, net, pool };
}

test('serialization follows the sqlcommenter spec: sorted keys, URL-encoded, quotes escaped, no way out of the comment', () => {
  assert.equal(serializeSqlComment({ dbrouter_reason: 'select', dbrouter_alias: 'replica1' }), "/*dbrouter_alias='replica1',dbrouter_reason='select'*/");
  assert.equal(serializeSqlComment({ route: '/orders/:id', 'the key': "it's" }), "/*route='%2Forders%2F%3Aid',the%20key='it%27s'*/");
  assert.equal(serializeSqlComment({ a: undefined }), '');
  assert.equal(serializeSqlComment({}), '');
  const hostile = serializeSqlComment({ '!50000 DROP TABLE t': "*/ DROP TABLE t; /* '\\" });
  assert.equal(hostile, "/*%2150000%20DROP%20TABLE%20t='%2A%2F%20DROP%20TABLE%20t%3B%20%2F%2A%20%27%5C'*/");
  assert.ok(!/[*!'\\/]/.test(hostile.slice(2, -2).replace(/='|',|'$/g, '')), 'no comment or quote characters inside');
});

test('the comment goes at the end, before a trailing semicolon; a statement with a comment is left as it is', () => {
  const c = "/*dbrouter_alias='r1'*/";
  assert.equal(appendSqlComment('SELECT 1', c, 'postgres'), `SELECT 1 ${c}`);
  assert.equal(appendSqlComment('SELECT 1;\n', c, 'mysql'), `SELECT 1 ${c};\n`);
  assert.equal(appendSqlComment('SELECT 1; SELECT 2;', c, 'postgres'), `SELECT 1; SELECT 2 ${c};`);
  assert.equal(appendSqlComment('SELECT 1 -- mine', c, 'postgres'), 'SELECT 1 -- mine');
  assert.equal(appendSqlComment('SELECT /* mine */ 1', c, 'mysql'), 'SELECT /* mine */ 1');
  assert.equal(appendSqlComment('SELECT 1 # mine', c, 'mysql'), 'SELECT 1 # mine');
  assert.equal(appendSqlComment("SELECT '{1}'::jsonb #> '{}'", c, 'postgres'), `SELECT '{1}'::jsonb #> '{}' ${c}`, '# is an operator on PostgreSQL');
});

test('off by default: statements go out exactly as written', async () => {
  const { net, pool } = pgSetup({});
  await pool.query('SELECT 1');
  await pool.query('INSERT INTO t VALUES ($1)', [1]);
  assert.deepEqual(net.ran.map((r) => r.sql), ['SELECT 1', 'INSERT INTO t VALUES ($1)']);
  await pool.end();
});

test('pg: each statement says where it ran and why; parameters never; the route event keeps the text as written', async () => {
  const { cluster, net, pool } = pgSetup({ sqlComment: true }, 2);
  const events: string[] = [];
  cluster.on('route', (e: { sql: string }) => events.push(e.sql));
  await pool.query('SELECT * FROM t WHERE a = $1', ["secret'*/--"]);
  const read = net.last();
  assert.match(read.alias, /^replica[12]$/);
  assert.equal(read.sql, `SELECT * FROM t WHERE a = $1 /*dbrouter_alias='${read.alias}',dbrouter_reason='select'*/`);
  assert.deepEqual(read.values, ["secret'*/--"], 'parameters go as parameters, untouched');
  await pool.query({ text: 'INSERT INTO t VALUES ($1)', values: [2] });
  assert.equal(net.last().sql, "INSERT INTO t VALUES ($1) /*dbrouter_alias='default',dbrouter_reason='write'*/");
  assert.deepEqual(events, ['SELECT * FROM t WHERE a = $1', 'INSERT INTO t VALUES ($1)']);
  assert.ok(!net.ran.some((r) => r.sql.includes('secret')));
  await pool.end();
});

test('pg: a named prepared statement carries the alias alone, the same text each time; unreadable SQL gets none', async () => {
  const { net, pool } = pgSetup({ sqlComment: true });
  for (let i = 0; i < 2; i++) await pool.query({ name: 'by-id', text: 'SELECT * FROM t WHERE id = $1', values: [i] });
  assert.deepEqual(net.ran.map((r) => r.sql), Array(2).fill("SELECT * FROM t WHERE id = $1 /*dbrouter_alias='replica1'*/"));
  await pool.query('this is not sql');
  assert.equal(net.last().sql, 'this is not sql');
  await pool.query('SELECT 1 -- already commented');
  assert.equal(net.last().sql, 'SELECT 1 -- already commented');
  await pool.end();
});

test('pg: a write a replica refused is re-run on the primary with the primary\'s alias; a bound client says transaction', async () => {
  const { net, pool } = pgSetup({ sqlComment: true });
  await pool.query('SELECT write_fn(1)');
  assert.deepEqual(net.ran.map((r) => [r.alias, r.sql]), [['default', "SELECT write_fn(1) /*dbrouter_alias='default',dbrouter_reason='select'*/"]]);
  net.ran = [];
  const c = await pool.connect();
  await c.query('BEGIN');
  await c.query('SELECT 1');
  await c.query('COMMIT');
  c.release();
  assert.deepEqual(net.ran.map((r) => r.sql), ['BEGIN', 'SELECT 1', 'COMMIT'].map((s) => `${s} /*dbrouter_alias='default',dbrouter_reason='transaction'*/`));
  await pool.end();
});

test('a function chooses the keys; one that throws leaves the statement as written and reports on the cluster', async () => {
  const seen: unknown[] = [];
  let fail = false;
  const { cluster, net, pool } = pgSetup({
    sqlComment: (s) => {
      seen.push(s);
      if (fail) throw new Error('comment function broke');
      return { application: 'shop', dbrouter_role: s.role };
    },
  });
  const errors: Error[] = [];
  cluster.on('error', (e: Error) => errors.push(e));
  await pool.query('SELECT 1');
  assert.equal(net.last().sql, "SELECT 1 /*application='shop',dbrouter_role='replica'*/");
  assert.deepEqual(seen, [{ alias: 'replica1', role: 'replica', reason: 'select' }]);
  fail = true;
  await pool.query('SELECT 2');
  assert.equal(net.last().sql, 'SELECT 2');
  assert.match(errors[0]!.message, /comment function broke/);
  await pool.end();
});

test('mysql: query carries alias and reason, execute (prepared) the alias alone; options objects keep their options', async () => {
  const { net, pool } = mysqlSetup({ sqlComment: true });
  await pool.query('SELECT * FROM t WHERE id = ?', [1]);
  assert.equal(net.last().sql, "SELECT * FROM t WHERE id = ? /*dbrouter_alias='replica1',dbrouter_reason='select'*/");
  await pool.execute('SELECT * FROM t WHERE id = ?', [1]);
  assert.equal(net.last().sql, "SELECT * FROM t WHERE id = ? /*dbrouter_alias='replica1'*/");
  await pool.query({ sql: 'UPDATE t SET v = 1;', rowsAsArray: true });
  assert.equal(net.last().sql, "UPDATE t SET v = 1 /*dbrouter_alias='default',dbrouter_reason='write'*/;");
  await pool.query('SELECT 1 # mine');
  assert.equal(net.last().sql, 'SELECT 1 # mine');
  await pool.end();
});

test('sqlComment is validated', () => {
  assert.throws(() => fakeCluster('postgres', 1, { sqlComment: 'yes' as never }), /sqlComment must be true, false or a function/);
});

test('the drivers\' callback hot path sends the comment too, and the route event keeps the text as written', async () => {
  const { cluster, net } = fakeCluster('postgres', 1, { sqlComment: true });
  class CallbackPool extends FakePgPool {
    Client = class {};
    override query(text: unknown, values?: unknown, cb?: (err: Error | undefined, r?: unknown) => void): Promise<import('pg').QueryResult> {
      const p = super.query(text, values);
      if (cb === undefined) return p;
      p.then((r) => cb(undefined, r), (e: Error) => cb(e));
      return undefined as never;
    }
  }
  const pool = createPgPool(cluster, { createPool: (cfg, alias) => new CallbackPool(net, alias, cfg) });
  await pool.query('SELECT 1');
  await pool.query({ name: 'n', text: 'SELECT 2' });
  assert.deepEqual(net.ran.map((r) => r.sql), ["SELECT 1 /*dbrouter_alias='replica1',dbrouter_reason='select'*/", "SELECT 2 /*dbrouter_alias='replica1'*/"]);
  await pool.end();

  const my = fakeCluster('mysql', 1, { sqlComment: true });
  class CorePool extends FakeMysqlPool {
    override readonly pool = Object.assign(new EventEmitter(), {
      query: (sql: string, values: unknown, cb: (err: Error | null, rows: unknown, fields: unknown) => void) => { my.net.run(this.alias, sql, values, 'pool'); cb(null, [], []); },
      execute: (sql: string, values: unknown, cb: (err: Error | null, rows: unknown, fields: unknown) => void) => { my.net.run(this.alias, sql, values, 'pool'); cb(null, [], []); },
    });
  }
  const mpool = createMysqlPool(my.cluster, { createPool: (cfg, alias) => new CorePool(my.net, alias, cfg) });
  await mpool.query('SELECT 1');
  await mpool.execute('SELECT 2');
  assert.deepEqual(my.net.ran.map((r) => r.sql), ["SELECT 1 /*dbrouter_alias='replica1',dbrouter_reason='select'*/", "SELECT 2 /*dbrouter_alias='replica1'*/"]);
  await mpool.end();
});
