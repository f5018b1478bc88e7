// The health monitor wired into a cluster: fake pg pools record where each statement ran; a fake
// prober and clock drive the monitor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { QueryResult } from 'pg';
import { createCluster, isDbRouterError } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { watchCluster } from '../../src/health/cluster-health.js';
import { FakeClock, FakeProber, primary, replica } from './health-fakes.js';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
const terminated = () => new Error('Connection terminated unexpectedly');

class Net {
  ran: string[] = [];
  dead = new Map<string, () => Error>();
  run(alias: string): Promise<QueryResult> {
    const fail = this.dead.get(alias);
    if (fail) return Promise.reject(fail());
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

async function setup(options: { failoverTimeoutMillis?: number; minReplicasInRotation?: number } = {}) {
  const cluster = createCluster({
    databases: {
      default: { url: 'postgres://app@127.0.0.1:5000/app', role: 'primary' },
      replica1: { url: 'postgres://app@127.0.0.1:5001/app', role: 'replica' },
      replica2: { url: 'postgres://app@127.0.0.1:5002/app', role: 'replica' },
    },
    consistency: 'eventual', // failover mechanics, not read-your-writes: reads after a write stay on replicas
  });
  const net = new Net();
  const pool = createPgPool(cluster, { createPool: (_c, alias) => new FakePool(net, alias) });
  const clock = new FakeClock();
  const prober = new FakeProber();
  prober.behaviour.set('default', primary());
  prober.behaviour.set('replica1', replica());
  prober.behaviour.set('replica2', replica());
  const health = watchCluster(cluster, {
    prober, clock, checkIntervalMillis: 1000, checkTimeoutMillis: 500, maxReplicationLagMillis: 4000, failoverTimeoutMillis: 2000, ...options,
  });
  const events: string[] = [];
  health.on('primary-changed', (e) => events.push(`primary-changed ${e.from}->${e.to}`));
  health.on('split-brain', (e) => events.push(`split-brain ${e.aliases.join(',')}`));
  await health.start();
  const reads = async (n: number) => {
    net.ran = [];
    for (let i = 0; i < n; i++) await pool.query('SELECT 1');
    return new Set(net.ran);
  };
  return { cluster, net, pool, clock, prober, health, events, reads };
}

test('late and dead replicas leave the reads; with every replica out, reads go to the primary', async () => {
  const { net, clock, prober, health, reads, cluster } = await setup();
  assert.deepEqual(await reads(30), new Set(['replica1', 'replica2']));
  assert.deepEqual(cluster.status()?.readableReplicas, ['replica1', 'replica2'], 'cluster.status() is the monitor\'s');
  prober.behaviour.set('replica1', replica('90', 6000));
  await clock.advance(1000);
  assert.equal(cluster.nodeState('replica1'), 'lagging');
  assert.deepEqual(await reads(20), new Set(['replica2']));
  prober.behaviour.set('replica2', refused());
  await clock.advance(2000);
  assert.equal(cluster.nodeState('replica2'), 'down');
  assert.deepEqual(await reads(10), new Set(['default']));
  prober.behaviour.set('replica1', replica('100', 0));
  prober.behaviour.set('replica2', replica('100', 0));
  await clock.advance(2000);
  assert.deepEqual(await reads(30), new Set(['replica1', 'replica2']));
  assert.equal(net.ran.length, 30);
  await health.stop();
});

test('a read that meets a dead connection is retried once elsewhere, and the node is suspect at once', async () => {
  const { net, clock, prober, health, pool, cluster } = await setup();
  net.dead.set('replica1', terminated);
  prober.behaviour.set('replica1', refused());
  net.ran = [];
  for (let i = 0; i < 20; i++) {
    const { rows } = await pool.query('SELECT 1');
    assert.notEqual(rows[0]!.alias, 'replica1');
  }
  assert.equal(cluster.nodeState('replica1'), 'down', 'out before the next scheduled check');
  await clock.advance(0);
  assert.equal(health.status().nodes.find((n) => n.alias === 'replica1')!.state, 'down');
  await health.stop();
});

test('primary lost: writes wait, then run on the promoted replica; reads never stop', async () => {
  const { net, clock, prober, health, pool, events } = await setup();
  net.dead.set('default', refused);
  prober.behaviour.set('default', refused());
  const write = pool.query('INSERT INTO t VALUES (1)');
  await clock.advance(0);
  // The refused write never reached the server: it waits for a primary instead of failing.
  assert.match(String((await pool.query('SELECT 1')).rows[0]!.alias), /^replica/);
  await clock.advance(300);
  prober.behaviour.set('replica1', primary('200'));
  prober.behaviour.set('replica2', replica('200', 0, '127.0.0.1:5001'));
  await clock.advance(100);
  const { rows } = await write;
  assert.equal(rows[0]!.alias, 'replica1');
  assert.deepEqual(events, ['primary-changed default->replica1']);
  assert.equal((await pool.query('UPDATE t SET x = 1')).rows[0]!.alias, 'replica1');
  net.ran = [];
  for (let i = 0; i < 10; i++) await pool.query('SELECT 1');
  assert.ok(net.ran.length === 10 && !net.ran.includes('default'), 'reads never go to the dead old primary');
  await health.stop();
});

test('a write cut mid-flight is not retried; later writes wait for the primary', async () => {
  const { net, clock, prober, health, pool } = await setup();
  net.dead.set('default', terminated);
  prober.behaviour.set('default', refused());
  await assert.rejects(pool.query('INSERT INTO t VALUES (1)'), (e) => isDbRouterError(e, 'WRITE_OUTCOME_UNKNOWN') && /Connection terminated/.test(String((e.cause as Error).message)));
  assert.equal(net.ran.length, 0, 'never re-run');
  const next = pool.query('INSERT INTO t VALUES (2)');
  await clock.advance(0);
  net.dead.delete('default');
  prober.behaviour.set('default', primary('300'));
  await clock.advance(100);
  assert.equal((await next).rows[0]!.alias, 'default');
  await health.stop();
});

test('no primary within failoverTimeoutMillis → PRIMARY_UNAVAILABLE, reads go on; back once there is one', async () => {
  const { net, clock, prober, health, pool } = await setup({ failoverTimeoutMillis: 1000 });
  net.dead.set('default', refused);
  prober.behaviour.set('default', refused());
  const write = pool.query('INSERT INTO t VALUES (1)');
  const failed = assert.rejects(write, (e) => isDbRouterError(e, 'PRIMARY_UNAVAILABLE'));
  await clock.advance(1000);
  await failed;
  const c = await pool.connect();
  const w2 = assert.rejects(c.query('DELETE FROM t'), (e) => isDbRouterError(e, 'PRIMARY_UNAVAILABLE'));
  await clock.advance(1000);
  await w2;
  c.release();
  assert.match((await pool.query('SELECT 1')).rows[0]!.alias, /^replica/);
  net.dead.delete('default');
  prober.behaviour.set('default', primary('300'));
  await clock.advance(1000);
  assert.equal((await pool.query('INSERT INTO t VALUES (3)')).rows[0]!.alias, 'default');
  await health.stop();
});

test('two primaries: writes refused with SPLIT_BRAIN, never split; reads go on', async () => {
  const { clock, prober, health, pool, events, net } = await setup();
  prober.behaviour.set('replica2', primary('150'));
  await clock.advance(1000);
  assert.deepEqual(events, ['split-brain default,replica2']);
  await assert.rejects(pool.query('INSERT INTO t VALUES (1)'), (e) => isDbRouterError(e, 'SPLIT_BRAIN'));
  net.ran = [];
  await pool.query('SELECT 1');
  assert.deepEqual(net.ran, ['replica1']);
  prober.behaviour.set('replica2', replica('150'));
  await clock.advance(1000);
  assert.equal((await pool.query('INSERT INTO t VALUES (1)')).rows[0]!.alias, 'default');
  await health.stop();
});

test('onPrimaryLost is called once when the primary is lost', async () => {
  const lost: string[] = [];
  const cluster = createCluster({ databases: { default: { url: 'postgres://a@127.0.0.1:1/a', role: 'primary' }, r: { url: 'postgres://a@127.0.0.1:2/a', role: 'replica' } } });
  const clock = new FakeClock();
  const prober = new FakeProber();
  prober.behaviour.set('default', primary());
  prober.behaviour.set('r', replica());
  const health = watchCluster(cluster, { prober, clock, onPrimaryLost: (e) => { lost.push(`${e.alias}:${e.reason}`); } });
  await health.start();
  prober.behaviour.set('default', refused());
  await clock.advance(5000);
  assert.deepEqual(lost, ['default:down']);
  await cluster.end();
  await assert.rejects(health.start(), (e) => isDbRouterError(e, 'POOL_ENDED'), 'cluster.end() stopped it');
});
