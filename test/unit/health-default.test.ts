// Issue 9 items 4 and 5 with fake drivers: health checking is on by default (no watchCluster), a
// node whose role is unknown at start is down until it answers, watchCluster tunes the one monitor,
// health: false turns it off, cluster.end() stops the checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { QueryResult } from 'pg';
import { createCluster, isDbRouterError, type ClusterConfig } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { watchCluster } from '../../src/health/cluster-health.js';
import { FakeClock, FakeProber, primary, replica } from './health-fakes.js';

class Net {
  ran: string[] = [];
  run(alias: string): Promise<QueryResult> {
    this.ran.push(alias);
    return Promise.resolve({ rows: [{ alias }], command: 'SELECT', rowCount: 1, oid: 0, fields: [] });
  }
}

class FakePool extends EventEmitter {
  totalCount = 0;
  idleCount = 0;
  waitingCount = 0;
  constructor(readonly net: Net, readonly alias: string) {
    super();
  }
  query(): Promise<QueryResult> {
    return this.net.run(this.alias);
  }
  connect() {
    const { net, alias } = this;
    return Promise.resolve({ query: () => net.run(alias), release: () => undefined, on: () => undefined, removeListener: () => undefined });
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
}

const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

// URL-only nodes: roles asked of the servers (here a fake discoverRole) at the first use.
function setup(answers: Record<string, 'primary' | 'replica' | 'down'>, health: ClusterConfig['health'] = {}) {
  const clock = new FakeClock();
  const prober = new FakeProber();
  const asked: string[] = [];
  const cluster = createCluster({
    databases: Object.fromEntries(Object.keys(answers).map((a, i) => [a, `postgres://app@127.0.0.1:${5000 + i}/app`])),
    consistency: 'eventual',
    discoverRole: (alias) => {
      asked.push(alias);
      const a = answers[alias]!;
      return a === 'down' ? Promise.reject(refused()) : Promise.resolve(a);
    },
    health: health === false ? false : { prober, clock, checkIntervalMillis: 1000, checkTimeoutMillis: 500, failoverTimeoutMillis: 2000, ...(typeof health === 'object' ? health : {}) },
  });
  const net = new Net();
  const pool = createPgPool(cluster, { createPool: (_c, alias) => new FakePool(net, alias) });
  const reads = async (n: number) => {
    net.ran = [];
    for (let i = 0; i < n; i++) await pool.query('SELECT 1');
    return [...new Set(net.ran)].sort();
  };
  return { cluster, pool, net, clock, prober, asked, reads };
}

test('no watchCluster: the first statement starts the checks; an unreachable URL-only replica is down, the app serves from the others, and it joins once it answers', async () => {
  const { cluster, pool, net, clock, prober, reads } = setup({ default: 'primary', replica1: 'replica', replica2: 'down' });
  prober.behaviour.set('default', primary());
  prober.behaviour.set('replica1', replica());
  prober.behaviour.set('replica2', refused());
  assert.equal(cluster.status(), undefined, 'nothing runs before the first use');
  assert.equal(prober.count('default'), 0);

  await pool.query('INSERT INTO t VALUES (1)');
  assert.deepEqual(net.ran, ['default'], 'the write ran on the primary although a replica is unreachable');
  assert.ok(cluster.health?.monitor, 'the first statement started the monitor');
  assert.equal(cluster.describe().find((d) => d.alias === 'replica2')!.role, undefined, 'its role is still unknown');
  assert.equal(cluster.nodeState('replica2'), 'down');
  await clock.advance(0);
  assert.ok(prober.count('replica2') >= 1 && prober.count('default') >= 1, 'every node was checked with no watchCluster call');
  assert.deepEqual(await reads(40), ['replica1'], 'reads skip the node of unknown role');

  // It starts: the monitor learns its role and it joins the reads.
  prober.behaviour.set('replica2', replica());
  for (let i = 0; i < 4 && cluster.nodeState('replica2') !== 'up'; i++) await clock.advance(1000);
  assert.equal(cluster.describe().find((d) => d.alias === 'replica2')!.role, 'replica', 'role learned from the check');
  assert.deepEqual(await reads(60), ['replica1', 'replica2'], 'it joined the reads');
  await cluster.end();
});

test('no primary answers at start: ready() resolves, reads go to the replica, writes wait failoverTimeoutMillis and fail PRIMARY_UNAVAILABLE; the primary joins when it answers', async () => {
  const { cluster, pool, net, clock, prober, reads } = setup({ default: 'down', replica1: 'replica' });
  prober.behaviour.set('default', refused());
  prober.behaviour.set('replica1', replica());
  await cluster.ready();
  assert.deepEqual(await reads(10), ['replica1']);
  net.ran = [];
  const write = pool.query('INSERT INTO t VALUES (1)');
  let settled = false;
  write.catch(() => undefined).finally(() => (settled = true));
  await clock.advance(1900);
  assert.equal(settled, false, 'the write waits for a primary');
  await clock.advance(200);
  await assert.rejects(write, (e) => isDbRouterError(e, 'PRIMARY_UNAVAILABLE'));
  assert.deepEqual(net.ran, [], 'nothing ran anywhere');

  prober.behaviour.set('default', primary());
  const later = pool.query('INSERT INTO t VALUES (2)');
  await clock.advance(100);
  await later;
  assert.deepEqual(net.ran, ['default'], 'the write waited for the primary and ran there once it answered');
  assert.equal(cluster.describe().find((d) => d.alias === 'default')!.role, 'primary');
  await cluster.end();
});

test('watchCluster returns and tunes the cluster\'s own monitor (never a second one)', async () => {
  const { cluster, pool, clock, prober } = setup({ default: 'primary', replica1: 'replica' });
  prober.behaviour.set('default', primary());
  prober.behaviour.set('replica1', replica());
  await pool.query('SELECT 1');
  const monitor = cluster.health!.monitor;
  assert.ok(monitor);
  const h = watchCluster(cluster, { checkIntervalMillis: 100 });
  assert.equal(h, cluster.health, 'the same ClusterHealth');
  await h.start();
  assert.equal(h.monitor, monitor, 'the same monitor');
  const before = prober.count('replica1');
  await clock.advance(1000);
  assert.ok(prober.count('replica1') - before >= 8, `checks every 100 ms after tuning (${prober.count('replica1') - before} in 1 s)`);
  assert.throws(() => watchCluster(cluster, { checkIntervalMillis: -1 }), (e) => isDbRouterError(e, 'CONFIG_INVALID'));
  await cluster.end();
});

test('health: false: no monitor until watchCluster(cluster).start(); a bad health option fails at construction', async () => {
  const { cluster, pool, prober } = setup({ default: 'primary', replica1: 'replica' }, false);
  await pool.query('SELECT 1');
  assert.equal(cluster.health, undefined);
  assert.equal(cluster.status(), undefined);
  assert.equal(prober.count('default'), 0);
  assert.throws(() => createCluster({ databases: { default: 'postgres://a@h/db' }, health: { checkTimeoutMillis: 0 } }), (e) => isDbRouterError(e, 'CONFIG_INVALID') && /checkTimeoutMillis/.test(e.message));
  assert.throws(() => createCluster({ databases: { default: 'postgres://a@h/db' }, health: 'yes' as never }), (e) => isDbRouterError(e, 'CONFIG_INVALID') && /health/.test(e.message));
  await cluster.end();
});

test('cluster.end() stops the checks', async () => {
  const { cluster, pool, clock, prober } = setup({ default: 'primary', replica1: 'replica' });
  prober.behaviour.set('default', primary());
  prober.behaviour.set('replica1', replica());
  await pool.query('SELECT 1');
  await clock.advance(3000);
  assert.ok(prober.count('default') >= 3);
  await cluster.end();
  const after = prober.count('default');
  await clock.advance(10_000);
  assert.equal(prober.count('default'), after, 'no check after end()');
  assert.equal(cluster.health!.stopped, true);
});
