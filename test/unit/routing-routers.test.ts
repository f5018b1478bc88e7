import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byTable, createCluster, isDbRouterError, multiPrimary, primaryReplica, randomIncludingPrimary, type Router } from '../../src/index.js';

const databases = {
  default: { url: 'postgres://app:pw@p.test/app', role: 'primary' as const },
  replica1: { host: 'r1.test', role: 'replica' as const },
  replica2: { host: 'r2.test', role: 'replica' as const, weight: 3 },
};

function count(fn: () => string, n: number): Record<string, number> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const a = fn();
    seen[a] = (seen[a] ?? 0) + 1;
  }
  return seen;
}

test('primaryReplica (default): reads spread over replicas, writes to the primary', () => {
  const cluster = createCluster({ databases });
  const seen = count(() => cluster.route('SELECT 1').node.alias, 400);
  assert.deepEqual(Object.keys(seen).sort(), ['replica1', 'replica2']);
  assert.equal(cluster.route('UPDATE t SET a = 1').node.alias, 'default');
  assert.equal(cluster.route('UPDATE t SET a = 1').reason, 'write');
});

test('round-robin alternates; weighted follows weights; least-busy avoids in-flight load', () => {
  const rr = createCluster({ databases, routers: [primaryReplica({ strategy: 'round-robin' })] });
  const order = Array.from({ length: 4 }, () => rr.route('SELECT 1').node.alias);
  assert.notEqual(order[0], order[1]);
  assert.equal(order[0], order[2]);
  const w = createCluster({ databases, routers: [primaryReplica({ strategy: 'weighted' })] });
  const seen = count(() => w.route('SELECT 1').node.alias, 4000);
  const share = seen.replica2! / 4000;
  assert.ok(share > 0.68 && share < 0.82, `replica2 share ${share}`);
  assert.throws(() => primaryReplica({ strategy: 'fastest' as 'random' }), /strategy must be one of/);
});

test('unavailable replicas are skipped; with none left reads go to the primary', () => {
  const cluster = createCluster({ databases });
  cluster.setNodeState('replica1', 'down');
  assert.deepEqual(Object.keys(count(() => cluster.route('SELECT 1').node.alias, 50)), ['replica2']);
  cluster.setNodeState('replica2', 'lagging');
  const d = cluster.route('SELECT 1');
  assert.equal(d.node.alias, 'default');
  assert.equal(d.reason, 'no-replica-available');
  assert.equal(cluster.isAvailable('replica2'), false);
  cluster.setNodeState('replica1', 'up');
  assert.equal(cluster.route('SELECT 1').node.alias, 'replica1');
});

test('a read gate can refuse a replica; the read falls back to another, then the primary', () => {
  const cluster = createCluster({ databases });
  const refused = new Set(['replica1']);
  const seenSql: string[] = [];
  const remove = cluster.addReadGate((alias, ctx) => {
    seenSql.push(ctx.sql);
    return !refused.has(alias);
  });
  assert.deepEqual(Object.keys(count(() => cluster.route('SELECT 1').node.alias, 50)), ['replica2']);
  refused.add('replica2');
  assert.equal(cluster.route('SELECT 1').node.alias, 'default');
  assert.ok(seenSql.includes('SELECT 1'));
  remove();
  assert.match(cluster.route('SELECT 1').node.alias, /^replica/);
});

test('the chain: first answer that is not undefined wins; fallbacks otherwise', () => {
  const quiet: Router = { name: 'quiet', dbForRead: () => undefined, dbForWrite: () => undefined };
  const reports: Router = { name: 'reports', dbForRead: (ctx) => (ctx.hints.report ? 'replica2' : undefined) };
  const cluster = createCluster({ databases, routers: [quiet, reports] });
  assert.equal(cluster.withHints({ report: true }, () => cluster.route('SELECT 1').node.alias), 'replica2');
  assert.match(cluster.route('SELECT 1').node.alias, /^replica/);
  assert.equal(cluster.route('DELETE FROM t').node.alias, 'default');
});

test('a router answering an unknown alias is ROUTER_ERROR naming the router', () => {
  class TypoRouter implements Router {
    dbForRead(): string {
      return 'replika1';
    }
  }
  const cluster = createCluster({ databases, routers: [new TypoRouter()] });
  assert.throws(() => cluster.route('SELECT 1'), (e) => isDbRouterError(e, 'ROUTER_ERROR') && /TypoRouter/.test(e.message) && /replika1/.test(e.message) && /replica1/.test(e.message));
  const named = createCluster({ databases, routers: [{ name: 'mine', dbForWrite: () => 'nope' }] });
  assert.throws(() => named.route('INSERT INTO t VALUES (1)'), (e) => isDbRouterError(e, 'ROUTER_ERROR') && /"mine"/.test(e.message));
  const throwing = createCluster({ databases, routers: [{ name: 'boom', dbForRead: () => { throw new Error('bad'); } }] });
  assert.throws(() => throwing.route('SELECT 1'), (e) => isDbRouterError(e, 'ROUTER_ERROR') && /boom/.test(e.message));
});

test('randomIncludingPrimary reads on every node; multiPrimary spreads writes over primaries', () => {
  const all = createCluster({ databases, routers: [randomIncludingPrimary()] });
  assert.deepEqual(Object.keys(count(() => all.route('SELECT 1').node.alias, 300)).sort(), ['default', 'replica1', 'replica2']);
  assert.equal(all.route('INSERT INTO t VALUES (1)').node.alias, 'default');
  const mp = createCluster({
    databases: { default: 'postgres://a@p1.test/app', second: { host: 'p2.test', role: 'primary' }, replica1: { host: 'r1.test', role: 'replica' } },
    routers: [multiPrimary()],
  });
  // Role of default is asked of the server unless given: give it.
  mp.setRole('default', 'primary');
  assert.deepEqual(Object.keys(count(() => mp.route('INSERT INTO t VALUES (1)').node.alias, 200)).sort(), ['default', 'second']);
  assert.deepEqual(Object.keys(count(() => mp.route('SELECT 1').node.alias, 300)).sort(), ['default', 'replica1', 'second']);
});

test('byTable routes by table and prefix, refuses joins across databases, and allows its migrations', async () => {
  const cluster = createCluster({
    databases: { ...databases, logs: { host: 'logs.test', role: 'primary' } },
    routers: [byTable({ audit_: 'logs', users: 'default' }), primaryReplica()],
  });
  assert.equal(cluster.route('INSERT INTO audit_log VALUES (1)').node.alias, 'logs');
  assert.equal(cluster.route('SELECT * FROM audit_log').node.alias, 'logs');
  assert.equal(cluster.route('SELECT * FROM users').node.alias, 'default');
  assert.match(cluster.route('SELECT * FROM orders').node.alias, /^replica/);
  assert.throws(
    () => cluster.route('SELECT * FROM users u JOIN audit_log a ON a.user_id = u.id'),
    (e) => isDbRouterError(e, 'CROSS_DATABASE_RELATION') && /users/.test(e.message) && /audit_log/.test(e.message) && /logs/.test(e.message),
  );
  assert.throws(() => cluster.route('SELECT * FROM orders o JOIN audit_x a ON true'), (e) => isDbRouterError(e, 'CROSS_DATABASE_RELATION'));
  assert.equal(cluster.route('SELECT * FROM users JOIN orders ON true').node.alias, 'default');
  assert.deepEqual(await cluster.migrationTargets(), ['default', 'logs']);
});

test('migrations: primaries by default; a router allowing a replica is refused with MIGRATE_REFUSED', async () => {
  const cluster = createCluster({ databases });
  assert.deepEqual(await cluster.migrationTargets(), ['default']);
  const bad = createCluster({ databases, routers: [{ name: 'all', allowMigrate: () => true }] });
  assert.deepEqual(await bad.migrationTargets(), ['default', 'replica1', 'replica2']);
  let ran = 0;
  await assert.rejects(bad.migrate(() => { ran++; return Promise.resolve(); }), (e) => isDbRouterError(e, 'MIGRATE_REFUSED') && /replica1/.test(e.message));
  assert.equal(ran, 0, 'nothing ran');
});

test('the decision allocates nothing per replica: 64 replicas route as fast as 1 (roughly)', () => {
  const make = (n: number) => {
    const dbs: Record<string, unknown> = { default: { url: 'postgres://a@p.test/app', role: 'primary' } };
    for (let i = 1; i <= n; i++) dbs[`r${i}`] = { host: `r${i}.test`, role: 'replica' };
    return createCluster({ databases: dbs as never });
  };
  const time = (n: number) => {
    const c = make(n);
    for (let i = 0; i < 2000; i++) c.route('SELECT 1');
    const t0 = performance.now();
    for (let i = 0; i < 20000; i++) c.route('SELECT 1');
    return performance.now() - t0;
  };
  const t1 = time(1);
  const t64 = time(64);
  assert.ok(t64 < t1 * 3 + 5, `1 replica ${t1.toFixed(1)}ms, 64 replicas ${t64.toFixed(1)}ms`);
});

test('least-busy picks the replica with the fewest statements in flight', async () => {
  const { createPgPool } = await import('../../src/engines/postgres/index.js');
  const cluster = createCluster({ databases, routers: [primaryReplica({ strategy: 'least-busy' })], health: false });
  const hold: Record<string, (() => void)[]> = {};
  const pool = createPgPool(cluster, {
    createPool: (_config, alias) => ({
      query: () => new Promise((resolve) => (hold[alias] ??= []).push(() => resolve({ rows: [], command: '', rowCount: 0, oid: 0, fields: [] }))),
      connect: () => Promise.reject(new Error('unused')),
      end: () => Promise.resolve(),
      on() { return this; },
      totalCount: 0, idleCount: 0, waitingCount: 0,
    }) as never,
  });
  const first = pool.query('SELECT 1');
  await new Promise((r) => setImmediate(r));
  const busy = Object.keys(hold)[0]!;
  assert.equal(cluster.route('SELECT 1').node.alias === busy, false, 'the idle replica is chosen');
  const second = pool.query('SELECT 1');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(Object.keys(hold).sort(), ['replica1', 'replica2']);
  for (const fns of Object.values(hold)) for (const f of fns) f();
  await Promise.all([first, second]);
  await pool.end();
});
