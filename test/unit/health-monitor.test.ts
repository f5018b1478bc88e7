import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthMonitor, type HealthMonitorOptions } from '../../src/health/monitor.js';
import type { MonitoredNode } from '../../src/engines/probe.js';
import { FakeClock, FakeProber, primary, replica } from './health-fakes.js';
import { sameAddress } from '../../src/health/address.js';
import { isDbRouterError } from '../../src/errors.js';

const NODES: MonitoredNode[] = [
  { alias: 'main', configuredRole: 'primary', address: '127.0.0.1:5000' },
  { alias: 'r1', configuredRole: 'replica', address: '127.0.0.1:5001' },
  { alias: 'r2', configuredRole: 'replica', address: '127.0.0.1:5002' },
];

function setup(options: Partial<HealthMonitorOptions> = {}) {
  const clock = new FakeClock();
  const prober = new FakeProber();
  prober.behaviour.set('main', primary());
  prober.behaviour.set('r1', replica());
  prober.behaviour.set('r2', replica());
  const monitor = new HealthMonitor({
    nodes: NODES, prober, clock, checkIntervalMillis: 1000, checkTimeoutMillis: 500,
    failuresBeforeDown: 2, checksBeforeUp: 2, maxReplicationLagMillis: 4000, ...options,
  });
  const events: string[] = [];
  for (const name of ['node-down', 'node-up', 'lagging', 'caught-up', 'primary-changed', 'primary-lost', 'split-brain', 'problem'] as const) {
    monitor.on(name, (e: object) => events.push(`${name} ${JSON.stringify(e)}`));
  }
  const errors: Error[] = [];
  monitor.on('error', (e) => errors.push(e));
  return { clock, prober, monitor, events, errors };
}

test('first checks: every node up, replicas in reads, primary known', async () => {
  const { monitor, events } = setup();
  await monitor.start();
  const st = monitor.status();
  assert.equal(st.primary, 'main');
  assert.equal(st.primaryAvailable, true);
  assert.deepEqual(st.readableReplicas, ['r1', 'r2']);
  assert.deepEqual(st.nodes.map((n) => [n.alias, n.state, n.role]), [['main', 'up', 'primary'], ['r1', 'up', 'replica'], ['r2', 'up', 'replica']]);
  assert.deepEqual(events, []);
  assert.doesNotThrow(() => JSON.stringify(st));
  await monitor.stop();
});

test('a replica goes down only after failuresBeforeDown checks, and back after checksBeforeUp', async () => {
  const { monitor, prober, clock, events } = setup();
  await monitor.start();
  prober.behaviour.set('r1', new Error('connect ECONNREFUSED'));
  await clock.advance(1000);
  assert.equal(monitor.status().nodes[1]!.state, 'up', 'one failure is not enough');
  assert.equal(monitor.status().nodes[1]!.reachable, false);
  await clock.advance(1000);
  assert.equal(monitor.status().nodes[1]!.state, 'down');
  assert.deepEqual(monitor.readableReplicas(), ['r2']);
  assert.match(events.join('\n'), /node-down \{"alias":"r1","error":"connect ECONNREFUSED","unreachable":true\}/);
  prober.behaviour.set('r1', replica());
  await clock.advance(1000);
  assert.deepEqual(monitor.readableReplicas(), ['r2'], 'one good check is not enough');
  await clock.advance(1000);
  assert.deepEqual(monitor.readableReplicas(), ['r1', 'r2']);
  assert.equal(events.filter((e) => e.startsWith('node-up')).length, 1);
  await monitor.stop();
});

test('a check that never answers is bounded by checkTimeoutMillis and aborted', async () => {
  const { monitor, prober, clock } = setup({ failuresBeforeDown: 1 });
  await monitor.start();
  prober.behaviour.set('r2', 'hang');
  await clock.advance(1000);
  assert.equal(monitor.status().nodes[2]!.state, 'up', 'still within the timeout');
  await clock.advance(500);
  const r2 = monitor.status().nodes[2]!;
  assert.equal(r2.state, 'down');
  assert.match(r2.lastError ?? '', /within 500 ms \(checkTimeoutMillis\)/);
  assert.deepEqual(prober.aborted, ['r2']);
  // Other nodes keep their own rhythm meanwhile.
  assert.equal(prober.count('r1'), 2);
  await monitor.stop();
});

test('markSuspect takes a replica out at once; a failed recheck takes it down', async () => {
  const { monitor, prober, clock, events } = setup();
  await monitor.start();
  prober.behaviour.set('r1', new Error('Connection terminated unexpectedly'));
  const before = prober.count('r1');
  monitor.markSuspect('r1');
  assert.deepEqual(monitor.readableReplicas(), ['r2'], 'out before the recheck');
  await clock.advance(0);
  assert.equal(prober.count('r1'), before + 1, 'rechecked at once');
  assert.equal(monitor.status().nodes[1]!.state, 'down');
  assert.equal(events.filter((e) => e.startsWith('node-down')).length, 1);
  await monitor.stop();
});

test('markSuspect on a healthy node: the recheck clears it', async () => {
  const { monitor, clock } = setup();
  await monitor.start();
  monitor.markSuspect('r2');
  assert.equal(monitor.status().nodes[2]!.suspect, true);
  await clock.advance(0);
  assert.equal(monitor.status().nodes[2]!.suspect, false);
  assert.deepEqual(monitor.readableReplicas(), ['r1', 'r2']);
  await monitor.stop();
});

test('lag: out beyond the bound, back only below half of it after checksBeforeUp checks', async () => {
  const { monitor, prober, clock, events } = setup();
  await monitor.start();
  // r1 lacks even the first primary position the monitor saw: only the engine can date that gap.
  prober.behaviour.set('r1', replica('90', 4500));
  await clock.advance(1000);
  assert.deepEqual(monitor.readableReplicas(), ['r2']);
  assert.match(events.join(), /lagging \{"alias":"r1","lagMillis":4500/);
  assert.equal(monitor.status().nodes[1]!.lagFrom, 'engine');
  // The primary writes; r1 applies up to the old position: its gap is dated by what the monitor saw.
  prober.behaviour.set('main', primary('200'));
  prober.behaviour.set('r2', replica('200'));
  await clock.advance(3000);
  prober.behaviour.set('r1', replica('100', 99_000));
  await clock.advance(1000);
  const r1 = monitor.status().nodes[1]!;
  assert.equal(r1.lagFrom, 'positions');
  assert.equal(r1.lagMillis, 3000, 'the age of the first primary position r1 lacks, not the engine\'s 99 s');
  assert.deepEqual(monitor.readableReplicas(), ['r2'], 'below the bound but above half: stays out');
  prober.behaviour.set('r1', replica('200', 99_000));
  await clock.advance(1000);
  assert.equal(monitor.status().nodes[1]!.lagMillis, 0, 'it has everything the primary has: lag 0 whatever the engine says');
  assert.deepEqual(monitor.readableReplicas(), ['r2'], 'one good check');
  await clock.advance(1000);
  assert.deepEqual(monitor.readableReplicas(), ['r1', 'r2']);
  assert.equal(events.filter((e) => e.startsWith('caught-up')).length, 1);
  await monitor.stop();
});

test('unknown lag (MariaDB SQL thread stopped) counts as beyond the bound while the replica lacks a write', async () => {
  const { monitor, prober, clock } = setup();
  await monitor.start();
  prober.behaviour.set('r2', { ...replica('90'), lagMillis: undefined, paused: true });
  await clock.advance(1000);
  const r2 = monitor.status().nodes[2]!;
  assert.equal(r2.lagging, true);
  assert.equal(r2.lagMillis, undefined);
  assert.equal(r2.paused, true);
  assert.deepEqual(monitor.readableReplicas(), ['r1']);
  // Paused but holding everything the primary has: nothing is missing, lag 0.
  prober.behaviour.set('r1', { ...replica('100'), lagMillis: undefined, paused: true });
  await clock.advance(1000);
  assert.equal(monitor.status().nodes[1]!.lagMillis, 0);
  assert.deepEqual(monitor.readableReplicas(), ['r1']);
  await monitor.stop();
});

test('a replica the engine calls current but that stopped applying the primary falls behind by position', async () => {
  const { monitor, prober, clock } = setup();
  await monitor.start();
  // The primary keeps writing; r1 reports lag 0 (received == replayed) but is stuck at 100.
  for (let i = 1; i <= 6; i++) {
    prober.behaviour.set('main', primary(String(100 + i * 10)));
    await clock.advance(1000);
  }
  const r1 = monitor.status().nodes[1]!;
  assert.equal(r1.lagging, true);
  assert.ok((r1.lagMillis ?? 0) > 4000, `lag from positions: ${r1.lagMillis}`);
  assert.equal(r1.lagPosition, 60);
  await monitor.stop();
});

test('every replica out: reads go to the primary; minReplicasInRotation keeps the least late', async () => {
  const a = setup();
  await a.monitor.start();
  a.prober.behaviour.set('r1', replica('90', 9000));
  a.prober.behaviour.set('r2', replica('90', 6000));
  await a.clock.advance(1000);
  assert.deepEqual(a.monitor.readableReplicas(), []);
  assert.equal(a.monitor.isReadable('main'), true);
  await a.monitor.stop();

  const b = setup({ minReplicasInRotation: 1 });
  await b.monitor.start();
  b.prober.behaviour.set('r1', replica('90', 9000));
  b.prober.behaviour.set('r2', replica('90', 6000));
  await b.clock.advance(1000);
  assert.deepEqual(b.monitor.readableReplicas(), ['r2']);
  b.prober.behaviour.set('r2', new Error('down'));
  await b.clock.advance(2000);
  assert.deepEqual(b.monitor.readableReplicas(), ['r1'], 'a down replica is never kept');
  await b.monitor.stop();
});

test('no primary available: lagging replicas serve reads rather than none', async () => {
  const { monitor, prober, clock } = setup();
  await monitor.start();
  prober.behaviour.set('r1', replica('90', 9000));
  prober.behaviour.set('r2', { ...replica('90'), lagMillis: undefined });
  await clock.advance(1000);
  assert.deepEqual(monitor.readableReplicas(), [], 'the primary takes the reads');
  prober.behaviour.set('main', new Error('ECONNREFUSED'));
  await clock.advance(2000);
  assert.equal(monitor.primary(), undefined);
  assert.deepEqual(monitor.readableReplicas(), ['r1', 'r2']);
  await monitor.stop();
});

test('primary killed, replica promoted: primary-lost, waiting writes, then primary-changed', async () => {
  const lost: string[] = [];
  const { monitor, prober, clock, events } = setup({ onPrimaryLost: (e) => { lost.push(`${e.alias}:${e.reason}`); } });
  await monitor.start();
  prober.behaviour.set('main', new Error('ECONNREFUSED'));
  monitor.markSuspect('main');
  assert.equal(monitor.primary(), undefined, 'a suspect primary takes no writes');
  await clock.advance(0);
  assert.deepEqual(lost, ['main:down']);
  const write = monitor.writablePrimary(3000);
  await clock.advance(200);
  const searched = prober.count('r1');
  await clock.advance(200);
  assert.ok(prober.count('r1') >= searched + 3, 'nodes are polled every primarySearchIntervalMillis while a write waits');
  prober.behaviour.set('r1', primary('200'));
  prober.behaviour.set('r2', replica('200', 0, '127.0.0.1:5001'));
  await clock.advance(50);
  assert.equal(await write, 'r1');
  assert.match(events.join('\n'), /primary-changed \{"from":"main","to":"r1"\}/);
  assert.deepEqual(monitor.readableReplicas(), ['r2']);
  await clock.advance(2000);
  assert.equal(prober.count('r2') < 60, true, 'back to the normal interval');
  await monitor.stop();
});

test('no primary past failoverTimeout → PRIMARY_UNAVAILABLE; reads still have replicas; then recovery', async () => {
  const { monitor, prober, clock } = setup();
  await monitor.start();
  prober.behaviour.set('main', new Error('ECONNREFUSED'));
  await clock.advance(2000);
  assert.equal(monitor.primary(), undefined);
  const write = monitor.writablePrimary(1000);
  const failed = assert.rejects(write, (e) => isDbRouterError(e, 'PRIMARY_UNAVAILABLE'));
  await clock.advance(1000);
  await failed;
  assert.deepEqual(monitor.readableReplicas(), ['r1', 'r2']);
  prober.behaviour.set('main', primary('300'));
  const again = monitor.writablePrimary(1000);
  await clock.advance(50);
  assert.equal(await again, 'main');
  await monitor.stop();
});

test('two primaries: split-brain event and writes refused, until one steps down', async () => {
  const { monitor, prober, clock, events } = setup();
  await monitor.start();
  prober.behaviour.set('r2', primary('150'));
  await clock.advance(1000);
  assert.deepEqual(monitor.status().splitBrain, ['main', 'r2']);
  assert.match(events.join(), /split-brain \{"aliases":\["main","r2"\]\}/);
  await assert.rejects(monitor.writablePrimary(1000), (e) => isDbRouterError(e, 'SPLIT_BRAIN'));
  assert.equal(monitor.primary(), undefined);
  assert.deepEqual(monitor.readableReplicas(), ['r1']);
  prober.behaviour.set('r2', replica('150'));
  await clock.advance(1000);
  assert.equal(monitor.primary(), 'main');
  assert.equal(events.filter((e) => e.startsWith('split-brain')).length, 1);
  await monitor.stop();
});

test('a configured primary that is a replica is reported, and the real primary found', async () => {
  const { monitor, prober, events } = setup();
  prober.behaviour.set('main', replica('100', 0, '127.0.0.1:5002'));
  prober.behaviour.set('r2', primary('100'));
  await monitor.start();
  assert.equal(monitor.primary(), 'r2');
  const main = monitor.status().nodes[0]!;
  assert.deepEqual(main.problems.map((p) => p.kind), ['configured-primary-is-replica']);
  assert.match(events.join('\n'), /problem .*configured as the primary but reports being a replica of 127.0.0.1:5002/);
  assert.match(events.join('\n'), /primary-changed \{"from":"main","to":"r2"\}/);
  await monitor.stop();
});

test('a replica of a different primary is reported as an upstream mismatch', async () => {
  const { monitor, prober, events } = setup();
  prober.behaviour.set('r1', replica('100', 0, 'localhost:5000'));
  prober.behaviour.set('r2', replica('100', 0, '10.9.9.9:5432'));
  await monitor.start();
  const problems = monitor.status().nodes.map((n) => n.problems.map((p) => p.kind).join());
  assert.deepEqual(problems, ['', '', 'upstream-mismatch']);
  assert.match(events.join('\n'), /replicates from 10.9.9.9:5432, not from the primary .*main.* \(127.0.0.1:5000\)/);
  await monitor.stop();
});

test('findPrimary waits for a check made after it was called', async () => {
  const { monitor, clock, prober } = setup();
  await monitor.start();
  const before = prober.count('main');
  const found = monitor.findPrimary(500);
  await clock.advance(0);
  assert.equal(await found, 'main');
  assert.equal(prober.count('main'), before + 1);
  await monitor.stop();
});

test('a throwing listener or hook becomes an error event, never a crash; no listener, no throw', async () => {
  const { monitor, prober, clock, errors } = setup({ onPrimaryLost: () => Promise.reject(new Error('hook failed')) });
  monitor.on('node-down', () => { throw new Error('listener bug'); });
  await monitor.start();
  prober.behaviour.set('main', new Error('x'));
  await clock.advance(2000);
  assert.deepEqual(errors.map((e) => (e.cause as Error | undefined)?.message ?? e.message), ['listener bug', 'hook failed']);

  const quiet = new HealthMonitor({ nodes: NODES, prober: new FakeProber(), clock: new FakeClock(), onPrimaryLost: () => { throw new Error('boom'); } });
  await quiet.start(); // every node refuses: no 'error' listener, and nothing is thrown
  await quiet.stop();
});

test('bad options are refused with CONFIG_INVALID', () => {
  const prober = new FakeProber();
  assert.throws(() => new HealthMonitor({ nodes: [], prober }), (e) => isDbRouterError(e, 'CONFIG_INVALID'));
  assert.throws(() => new HealthMonitor({ nodes: [NODES[0]!, NODES[0]!], prober }), /appears twice/);
  assert.throws(() => new HealthMonitor({ nodes: [NODES[0]!, { alias: 'x', configuredRole: 'primary' }], prober }), /one primary/);
  assert.throws(() => new HealthMonitor({ nodes: NODES, prober, checkTimeoutMillis: 0 }), /checkTimeoutMillis/);
});

test('stop() rejects waiting writes and is idempotent', async () => {
  const { monitor, prober } = setup();
  await monitor.start();
  prober.behaviour.set('main', new Error('x'));
  monitor.markSuspect('main');
  const write = monitor.writablePrimary(10_000);
  await monitor.stop();
  await assert.rejects(write, (e) => isDbRouterError(e, 'PRIMARY_UNAVAILABLE'));
  await monitor.stop();
});

test('addresses compare loopback names and socket directories as one host', () => {
  assert.equal(sameAddress('localhost:5432', '127.0.0.1:5432'), true);
  assert.equal(sameAddress('/tmp:5432', '127.0.0.1:5432'), true);
  assert.equal(sameAddress('[::1]:5432', 'localhost:5432'), true);
  assert.equal(sameAddress('10.0.0.1:5432', '10.0.0.2:5432'), false);
  assert.equal(sameAddress('127.0.0.1:5433', '127.0.0.1:5432'), false);
});

test('issue 9.1: a replica holding transactions the primary lacks is diverged and out of the reads', async () => {
  const { monitor, prober, clock, events } = setup();
  await monitor.start();
  // r1 claims a position beyond the primary's (gtid_slave_pos set past it, or an errant write).
  prober.behaviour.set('r1', replica('150', 0));
  await clock.advance(1000);
  assert.deepEqual(monitor.status().nodes[1]!.problems, [], 'no verdict before a primary check that started after r1\'s read');
  await clock.advance(1000);
  const r1 = monitor.status().nodes[1]!;
  assert.deepEqual(r1.problems.map((p) => p.kind), ['diverged']);
  assert.equal(r1.lagMillis, 0, 'by position it looks caught up: that is exactly why lag alone is not enough');
  assert.deepEqual(monitor.readableReplicas(), ['r2']);
  assert.match(events.join('\n'), /problem \{"alias":"r1","kind":"diverged"/);
  // Even with every other replica gone and minReplicasInRotation asking for one, it never serves.
  prober.behaviour.set('r2', new Error('ECONNREFUSED'));
  await clock.advance(2000);
  assert.deepEqual(monitor.readableReplicas(), []);
  // Rebuilt from the primary: the problem clears once a later primary check confirms it.
  prober.behaviour.set('r1', replica('100', 0));
  await clock.advance(2000);
  assert.deepEqual(monitor.status().nodes[1]!.problems, []);
  assert.deepEqual(monitor.readableReplicas(), ['r1']);
  await monitor.stop();
});

test('a replica position ahead of an older primary position is not divergence: only a primary read after it counts', async () => {
  const { monitor, prober, clock } = setup({ checkIntervalMillis: 1000 });
  await monitor.start();
  // The primary wrote 110 after its last check; r1 already has it when checked. Then the primary
  // is checked and shows 110: no verdict in between.
  prober.behaviour.set('r1', replica('110', 0));
  monitor.markSuspect('r1');
  await clock.advance(0);
  assert.deepEqual(monitor.status().nodes[1]!.problems, [], 'compared only with a primary position read later');
  prober.behaviour.set('main', primary('110'));
  await clock.advance(1000);
  assert.deepEqual(monitor.status().nodes[1]!.problems, []);
  assert.deepEqual(monitor.readableReplicas(), ['r1', 'r2']);
  await monitor.stop();
});

test('issue 9.1: stopped replication threads take a replica out while a primary can serve', async () => {
  const { monitor, prober, clock } = setup();
  await monitor.start();
  prober.behaviour.set('r2', { ...replica('100'), replicationStopped: 'its receiving (IO) thread stopped with error 1236: ...' });
  await clock.advance(1000);
  const r2 = monitor.status().nodes[2]!;
  assert.deepEqual(r2.problems.map((p) => p.kind), ['replication-stopped']);
  assert.deepEqual(monitor.readableReplicas(), ['r1']);
  // No primary and no other replica: a stopped replica's late data beats a failed read.
  prober.behaviour.set('main', new Error('ECONNREFUSED'));
  prober.behaviour.set('r1', new Error('ECONNREFUSED'));
  await clock.advance(2000);
  assert.equal(monitor.status().primaryAvailable, false);
  assert.deepEqual(monitor.readableReplicas(), ['r2']);
  await monitor.stop();
});

test('a replica streaming from no one leaves the reads once the primary answers a check begun after it', async () => {
  const { monitor, prober, clock } = setup();
  await monitor.start();
  prober.behaviour.set('r2', { ...replica('100'), notStreaming: 'no WAL receiver runs' });
  monitor.markSuspect('r2');
  await clock.advance(0);
  // The primary is checked right after (the replica's verdict waits for it), then r2 is out.
  assert.deepEqual(monitor.status().nodes[2]!.problems.map((p) => p.kind), ['replication-stopped']);
  assert.deepEqual(monitor.readableReplicas(), ['r1']);
  prober.behaviour.set('r2', replica('100'));
  await clock.advance(250);
  assert.deepEqual(monitor.readableReplicas(), ['r1', 'r2'], 'rechecked within 250 ms, back once it streams');
  await monitor.stop();
});

test('the primary dies and its replicas\' streams break: replicas checked first keep serving reads', async () => {
  const { monitor, prober, clock } = setup({ failuresBeforeDown: 1 });
  await monitor.start();
  prober.behaviour.set('main', new Error('connect ECONNREFUSED'));
  prober.behaviour.set('r1', { ...replica('100'), notStreaming: 'no WAL receiver runs' });
  prober.behaviour.set('r2', { ...replica('100'), notStreaming: 'no WAL receiver runs' });
  // The replicas are checked before the primary is found down.
  monitor.markSuspect('r1');
  monitor.markSuspect('r2');
  const seen: string[][] = [];
  for (let i = 0; i < 8; i += 1) {
    await clock.advance(i === 0 ? 0 : 250);
    seen.push(monitor.readableReplicas());
  }
  assert.equal(monitor.status().primaryAvailable, false);
  assert.ok(seen.every((r) => r.length === 2), `reads never lost their replicas: ${JSON.stringify(seen)}`);
  await monitor.stop();
});
