import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDbRouterError } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { FakePgPool, fakeCluster } from './routing-fakes.js';

function setup(replicas = 2, extra = {}) {
  const { cluster, net } = fakeCluster('postgres', replicas, extra);
  const inner: FakePgPool[] = [];
  const pool = createPgPool(cluster, {
    createPool: (config, alias) => {
      const p = new FakePgPool(net, alias, config);
      inner.push(p);
      return p;
    },
  });
  return { cluster, net, pool, inner };
}

test('pool.query: reads go to a replica, writes and hard cases to the primary', async () => {
  const { net, pool } = setup();
  const reads = ['SELECT * FROM users WHERE id = $1', 'SELECT 1'];
  const writes = [
    'INSERT INTO users(name) VALUES ($1)',
    'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d',
    'SELECT * FROM users FOR UPDATE',
    "SELECT nextval('s')",
    'SELECT pg_advisory_lock(1)',
    'SELECT 1; DELETE FROM t',
    'this is not sql',
  ];
  for (const sql of reads) {
    await pool.query(sql, [1]);
    assert.match(net.last().alias, /^replica\d$/, sql);
  }
  for (const sql of writes) {
    await pool.query(sql, [1]);
    assert.equal(net.last().alias, 'default', sql);
  }
  await pool.query({ text: 'SELECT 2', rowMode: 'array' });
  assert.match(net.last().alias, /^replica/);
  await pool.end();
});

test('callback forms of query and connect work', async () => {
  const { net, pool } = setup();
  await new Promise<void>((resolve, reject) => pool.query('SELECT 1', (err, r) => (err ? reject(err) : (assert.equal(r.rows.length, 1), resolve()))));
  await new Promise<void>((resolve, reject) => pool.query('INSERT INTO t VALUES ($1)', [1], (err) => (err ? reject(err) : resolve())));
  assert.equal(net.last().alias, 'default');
  await new Promise<void>((resolve, reject) =>
    pool.connect((err, client, done) => {
      if (err || !client) return reject(err ?? new Error('no client'));
      client.query('SELECT 1').then(() => (done(), resolve()), reject);
    }),
  );
  await pool.end();
});

test('a checked-out client reads on replicas until it writes, then stays on the primary', async () => {
  const { net, pool } = setup();
  const c = await pool.connect();
  await c.query('SELECT 1');
  assert.match(net.last().alias, /^replica/);
  assert.equal(c.boundAlias, undefined);
  await c.query('UPDATE t SET a = 1');
  assert.equal(net.last().alias, 'default');
  assert.equal(c.boundAlias, 'default');
  await c.query('SELECT 2');
  assert.equal(net.last().alias, 'default', 'a read after a write stays on the primary');
  assert.equal(net.last().via, 'client');
  c.release();
  assert.equal(net.released, 1);
  await pool.end();
});

test('transactions run on the primary; SET ROLE and temp tables pin the client', async () => {
  const { net, pool } = setup();
  for (const first of ['BEGIN', 'SET ROLE app', 'CREATE TEMP TABLE x (a int)', 'LISTEN ch']) {
    const c = await pool.connect();
    await c.query(first);
    await c.query('SELECT 1');
    assert.deepEqual([net.ran.at(-2)!.alias, net.last().alias], ['default', 'default'], first);
    c.release();
  }
  await pool.end();
});

test('BEGIN READ ONLY binds to one replica for the transaction, then the client is free again', async () => {
  const { net, pool } = setup();
  const c = await pool.connect();
  await c.query('BEGIN READ ONLY');
  const replica = net.last().alias;
  assert.match(replica, /^replica/);
  for (let i = 0; i < 5; i++) {
    await c.query('SELECT 1');
    assert.equal(net.last().alias, replica);
  }
  await c.query('COMMIT');
  assert.equal(net.last().alias, replica);
  assert.equal(c.boundAlias, undefined);
  assert.equal(net.released, 1, 'the replica connection went back after COMMIT');
  await c.query('INSERT INTO t VALUES (1)');
  assert.equal(net.last().alias, 'default');
  c.release();
  await pool.end();
});

test('safety net: a write a replica refuses is re-run once on the primary and counted as a misroute', async () => {
  const { cluster, net, pool } = setup(1, { debug: true });
  const misroutes: unknown[] = [];
  cluster.on('misroute', (m) => misroutes.push(m));
  const r = await pool.query('SELECT write_fn($1)', ['secret-param']);
  assert.equal(r.rows[0]!.alias, 'default');
  assert.equal(misroutes.length, 1);
  assert.equal(cluster.stats().misroutes, 1);
  const log = cluster.queries.at(-1)!;
  assert.equal(log.misroute, true);
  assert.equal(log.alias, 'default');
  assert.ok(!JSON.stringify(cluster.queries).includes('secret-param'), 'no parameters in the log');
  // On a client: the misrouted statement pins it to the primary.
  const c = await pool.connect();
  await c.query('SELECT write_fn(1)');
  await c.query('SELECT 1');
  assert.equal(net.last().alias, 'default');
  c.release();
  await pool.end();
});

test('SQL that does not parse goes to the primary and its error reaches the caller unchanged', async () => {
  const { pool } = setup();
  await assert.rejects(pool.query('syntax error here'), (e: Error & { code?: string }) => {
    assert.equal(e.code, '42601');
    assert.equal(e.message, 'syntax error at or near "here"');
    return true;
  });
  await pool.end();
});

test('a pool after end() rejects with POOL_ENDED; end() twice is fine; release twice throws CLIENT_RELEASED', async () => {
  const { pool, inner } = setup();
  const c = await pool.connect();
  await c.query('INSERT INTO t VALUES (1)');
  c.release();
  assert.throws(() => c.release(), (e) => isDbRouterError(e, 'CLIENT_RELEASED'));
  await assert.rejects(c.query('SELECT 1'), (e) => isDbRouterError(e, 'CLIENT_RELEASED'));
  await pool.end();
  await pool.end();
  assert.ok(inner.every((p) => p.ended));
  await assert.rejects(pool.query('SELECT 1'), (e) => isDbRouterError(e, 'POOL_ENDED') && /end\(\)/.test(e.message));
  await assert.rejects(pool.connect(), (e) => isDbRouterError(e, 'POOL_ENDED'));
});

test('inner pool errors arrive on the routed pool\'s error event, and never crash without a listener', async () => {
  const { pool, inner } = setup();
  await pool.query('SELECT 1');
  await pool.query('INSERT INTO t VALUES (1)');
  const seen: unknown[] = [];
  inner[0]!.emit('error', new Error('idle client died'), {});
  pool.on('error', (e) => seen.push(e));
  for (const p of inner) p.emit('error', new Error('idle client died'), {});
  assert.equal(seen.length, inner.length);
  await pool.end();
});

test('counts are summed over the node pools; connect/acquire events are forwarded', async () => {
  const { pool, inner } = setup();
  const acquired: unknown[] = [];
  pool.on('acquire', (c) => acquired.push(c));
  await pool.query('SELECT 1');
  await pool.query('INSERT INTO t VALUES (1)');
  assert.equal(pool.totalCount, inner.length);
  inner[0]!.emit('acquire', { fake: true });
  assert.equal(acquired.length, 1);
  await pool.end();
});

test('config passed to each node pool: replica inherits user/password/database; password not enumerable', async () => {
  const { pool, inner } = setup();
  await pool.query('SELECT 1');
  await pool.query('INSERT INTO t VALUES (1)');
  const replica = inner.find((p) => p.alias.startsWith('replica'))!;
  assert.equal(replica.config.user, 'app');
  assert.equal(replica.config.database, 'app');
  assert.equal(replica.config.port, 5000);
  assert.equal(replica.config.password, 's3cret-pw');
  assert.ok(!JSON.stringify(replica.config).includes('s3cret'));
  await pool.end();
});

test('write hooks run once per autocommit write and once per committed transaction that wrote', async () => {
  const { cluster, pool } = setup();
  const events: string[] = [];
  cluster.onWrite(async (e) => {
    events.push(`${e.kind}:${e.alias}:${e.sql}`);
    await e.query('SELECT pg_current_wal_lsn()');
  });
  await pool.query('SELECT 1');
  await pool.query('INSERT INTO t VALUES (1)');
  const c = await pool.connect();
  await c.query('BEGIN');
  await c.query('UPDATE t SET a = 2');
  await c.query('UPDATE t SET a = 3');
  await c.query('COMMIT');
  await c.query('BEGIN');
  await c.query('SELECT 1');
  await c.query('COMMIT');
  c.release();
  assert.deepEqual(events, ['statement:default:INSERT INTO t VALUES (1)', 'commit:default:COMMIT']);
  await pool.end();
});

test('route events and the debug log carry alias, role, reason and duration but no parameters', async () => {
  const { cluster, pool } = setup(1, { debug: { maxEntries: 2 } });
  const events: { alias: string; reason: string }[] = [];
  cluster.on('route', (e: { alias: string; reason: string }) => events.push(e));
  await pool.query('SELECT $1::text', ['p1-secret']);
  await pool.query('INSERT INTO t VALUES ($1)', ['p2-secret']);
  await pool.query('SELECT 3');
  assert.deepEqual(events.map((e) => [e.alias, e.reason]), [['replica1', 'select'], ['default', 'write'], ['replica1', 'select']]);
  assert.equal(cluster.queries.length, 2, 'bounded');
  assert.deepEqual(cluster.queries.map((q) => q.sql), ['INSERT INTO t VALUES ($1)', 'SELECT 3']);
  assert.ok(cluster.queries.every((q) => q.durationMillis >= 0 && (q.role === 'primary' || q.role === 'replica')));
  assert.ok(!JSON.stringify([events, cluster.queries]).includes('secret'));
  const s = cluster.stats();
  assert.equal(s.byAlias.replica1!.byReason.select, 2);
  assert.equal(s.byAlias.default!.writes, 1);
  await pool.end();
});

test('callback-API node pools (the real drivers\' hot path): results, safety net, and write hooks in the caller\'s scope', async () => {
  const { cluster, net } = fakeCluster('postgres', 1);
  // Callbacks are delivered from a loop started outside any scope, as a driver's socket does.
  const queue: (() => void)[] = [];
  const loop = setInterval(() => queue.splice(0).forEach((f) => f()), 1);
  class CallbackPool extends FakePgPool {
    Client = class {};
    override query(text: unknown, values?: unknown, cb?: (err: Error | undefined, r?: unknown) => void): Promise<import('pg').QueryResult> {
      const p = super.query(text, values);
      if (cb === undefined) return p;
      p.then((r) => queue.push(() => cb(undefined, r)), (e: Error) => queue.push(() => cb(e)));
      return undefined as never;
    }
  }
  const pool = createPgPool(cluster, { createPool: (cfg, alias) => new CallbackPool(net, alias, cfg) });
  const seen: unknown[] = [];
  cluster.onWrite(() => {
    seen.push((globalThis as { probe?: () => unknown }).probe?.());
  });
  const { currentScope } = await import('../../src/routing/scopes.js');
  (globalThis as { probe?: () => unknown }).probe = () => currentScope()?.hints?.request;
  try {
    const r = await pool.query('SELECT 1');
    assert.equal(r.rows[0]!.alias, 'replica1');
    await cluster.withHints({ request: 'r-42' }, () => pool.query('INSERT INTO t VALUES (1)'));
    assert.deepEqual(seen, ['r-42'], 'the write hook ran in the caller\'s scope');
    const misrouted = await cluster.withHints({ request: 'r-43' }, () => pool.query('SELECT write_fn(1)'));
    assert.equal(misrouted.rows[0]!.alias, 'default');
    assert.deepEqual(seen, ['r-42', 'r-43'], 'the safety net\'s re-run kept the scope too');
    await assert.rejects(pool.query('syntax error here'), (e: Error & { code?: string }) => e.code === '42601');
    assert.equal(cluster.stats().misroutes, 1);
  } finally {
    clearInterval(loop);
    delete (globalThis as { probe?: () => unknown }).probe;
    await pool.end();
  }
});

test('issue 12: a write through a checked-out client is recorded with its own reason; the reads after it are sticky', async () => {
  const { cluster, pool } = setup(1, { debug: true });
  const c = await pool.connect();
  try {
    await c.query('INSERT INTO t VALUES (1)');
    await c.query('SELECT 1');
  } finally {
    c.release();
  }
  assert.deepEqual(cluster.queries.slice(-2).map((q) => [q.alias, q.reason]), [['default', 'write'], ['default', 'sticky']]);
});
