// Health monitor scenarios on real replicating clusters, shared by health-postgres.test.ts and
// health-mariadb.test.ts. Each file starts its own cluster: these tests kill and promote nodes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, ownCluster } from '../harness/clusters.js';
import { HealthMonitor, type HealthMonitorEvents, type HealthMonitorOptions } from '../../src/health/monitor.js';
import type { MonitoredNode, Prober } from '../../src/engines/probe.js';
import { postgresProber, type ProbeConnection } from '../../src/engines/postgres/probe.js';
import { mariadbProber } from '../../src/engines/mysql/probe.js';

type EngineName = 'postgres' | 'mariadb';

interface Writer { write(): Promise<void>; end(): Promise<void> }

const TIMING = { checkIntervalMillis: 100, checkTimeoutMillis: 300, failuresBeforeDown: 2, checksBeforeUp: 2, maxReplicationLagMillis: 1000 };
/** Kill → node-down must come within (failuresBeforeDown checks at interval + one timeout) plus slack for a busy 2-core machine. */
const DETECTION_BOUND_MILLIS = TIMING.failuresBeforeDown * TIMING.checkIntervalMillis + TIMING.checkTimeoutMillis + 700;

export function connectionOf(url: string): ProbeConnection {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    password: u.password ? decodeURIComponent(u.password) : undefined,
    database: u.pathname.slice(1) || undefined,
  };
}

function waitForEvent<K extends keyof HealthMonitorEvents>(
  monitor: HealthMonitor, name: K, match: (...args: HealthMonitorEvents[K]) => boolean, timeoutMillis: number,
): Promise<{ args: HealthMonitorEvents[K]; millis: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const listener = (...args: HealthMonitorEvents[K]) => {
      if (!match(...args)) return;
      clearTimeout(timer);
      monitor.off(name, listener as never);
      resolve({ args, millis: performance.now() - started });
    };
    const timer = setTimeout(() => {
      monitor.off(name, listener as never);
      reject(new Error(`no '${name}' event within ${timeoutMillis} ms; status: ${JSON.stringify(monitor.status())}`));
    }, timeoutMillis);
    monitor.on(name, listener as never);
  });
}

// A steady trickle of writes so that a paused replica falls behind in time, not only in position.
function keepWriting(writer: Writer): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      await writer.write().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return { stop: async () => { running = false; await loop; } };
}

async function pgWriter(url: string): Promise<Writer> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  await client.query('CREATE TABLE IF NOT EXISTS health_ticks (id serial PRIMARY KEY, at timestamptz DEFAULT now())');
  return { write: async () => { await client.query('INSERT INTO health_ticks DEFAULT VALUES'); }, end: () => client.end().catch(() => undefined) };
}

async function mariadbWriter(url: string): Promise<Writer> {
  const mysql = await import('mysql2/promise');
  const conn = await mysql.createConnection(url);
  conn.on('error', () => undefined);
  await conn.query('CREATE TABLE IF NOT EXISTS health_ticks (id INT AUTO_INCREMENT PRIMARY KEY, at TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP(3))');
  return { write: async () => { await conn.query('INSERT INTO health_ticks () VALUES ()'); }, end: () => conn.end().catch(() => undefined) };
}

// MariaDB's application user cannot run SHOW SLAVE STATUS: give the monitor its own user, created
// by root over the unix socket of the local cluster (root authenticates by socket there).
export async function createMariadbMonitorUser(cluster: LocalCluster): Promise<{ user: string; password: string }> {
  const state = JSON.parse(readFileSync(path.join(cluster.dir, 'state.json'), 'utf8')) as { socketDir: string };
  const mysql = await import('mysql2/promise');
  const root = await mysql.createConnection({ socketPath: path.join(state.socketDir, `${cluster.primaryAlias}.sock`), user: userInfo().uid === 0 ? 'root' : userInfo().username });
  const monitor = { user: 'dbrouter_monitor', password: 'monitor-secret' };
  await root.query(`CREATE USER '${monitor.user}'@'%' IDENTIFIED BY '${monitor.password}'`);
  await root.query(`GRANT SLAVE MONITOR ON *.* TO '${monitor.user}'@'%'`);
  await root.end();
  await cluster.waitForAllReplicas();
  return monitor;
}

export async function healthScenarios(engine: EngineName): Promise<void> {
  const skip = await engineSkip(engine);
  describe(`health monitor on a real ${engine} cluster`, { skip }, () => scenarios(engine));
}

function scenarios(engine: EngineName): void {
  let cluster: LocalCluster;
  let connections: Record<string, ProbeConnection>;
  let prober: Prober;
  let monitorUser: { user: string; password: string } | undefined;
  let writer: Writer;
  let monitor: HealthMonitor;
  let silent: net.Server;
  const sockets = new Set<net.Socket>();
  const monitors: HealthMonitor[] = [];
  const errors: Error[] = [];

  const nodes = (): MonitoredNode[] => Object.entries(cluster.databases).map(([alias, db]) => ({
    alias, configuredRole: db.role, address: `${connections[alias]!.host}:${connections[alias]!.port}`,
  }));
  const newMonitor = (options: Partial<HealthMonitorOptions> & Pick<HealthMonitorOptions, 'nodes'>, p: Prober = prober) => {
    const m = new HealthMonitor({ prober: p, ...TIMING, ...options });
    m.on('error', (e) => errors.push(e));
    monitors.push(m);
    return m;
  };

  before(async () => {
    cluster = await ownCluster(engine, { replicas: 2 });
    connections = Object.fromEntries(Object.entries(cluster.databases).map(([alias, db]) => [alias, connectionOf(db.url)]));
    if (engine === 'postgres') {
      prober = postgresProber({ connections });
    } else {
      monitorUser = await createMariadbMonitorUser(cluster);
      prober = mariadbProber({ connections, monitor: monitorUser });
    }
    const primaryUrl = cluster.databases[cluster.primaryAlias]!.url;
    writer = engine === 'postgres' ? await pgWriter(primaryUrl) : await mariadbWriter(primaryUrl);
    // A server that accepts TCP and never says a word.
    silent = net.createServer((s) => { sockets.add(s); s.on('error', () => undefined); });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  });

  after(async () => {
    await Promise.all(monitors.map((m) => m.stop()));
    await writer?.end();
    for (const s of sockets) s.destroy();
    silent?.close();
    await cluster?.down();
  });

  test(`${engine}: first checks see the real roles, positions and upstreams`, async () => {
    monitor = newMonitor({ nodes: nodes() });
    await monitor.start();
    const st = monitor.status();
    assert.equal(st.primary, 'default');
    assert.deepEqual(st.readableReplicas, ['replica1', 'replica2']);
    for (const n of st.nodes) {
      assert.equal(n.state, 'up', n.alias);
      assert.equal(n.role, n.configuredRole, n.alias);
      assert.ok(n.position, `${n.alias} has a position`);
      assert.ok((n.rttMillis ?? Infinity) < 100, `${n.alias} rtt ${n.rttMillis}`);
      assert.deepEqual(n.problems, [], n.alias);
    }
    const replica = st.nodes.find((n) => n.alias === 'replica1')!;
    assert.ok(replica.upstream?.endsWith(`:${connections.default!.port}`), `upstream ${replica.upstream}`);
    assert.equal(replica.lagging, false);
    assert.doesNotMatch(JSON.stringify(st), /monitor-secret/);
  });

  test(`${engine}: a killed replica is down within the bound, and up again once started`, async () => {
    const down = waitForEvent(monitor, 'node-down', (e) => e.alias === 'replica2', 5000);
    await cluster.kill('replica2');
    const { millis, args } = await down;
    console.log(`${engine}: replica killed → node-down in ${millis.toFixed(0)} ms (${args[0].error})`);
    assert.ok(millis < DETECTION_BOUND_MILLIS, `detected in ${millis} ms, bound ${DETECTION_BOUND_MILLIS}`);
    assert.deepEqual(monitor.readableReplicas(), ['replica1']);
    const up = waitForEvent(monitor, 'node-up', (e) => e.alias === 'replica2', 15_000);
    const t0 = performance.now();
    await cluster.start('replica2');
    const started = performance.now() - t0;
    const { millis: upMillis } = await up;
    // Up is not yet readable: a restarted replica may still be catching up (MariaDB reports no lag
    // while its IO thread connects), and comes back into reads after checksBeforeUp good checks.
    await waitUntil(() => monitor.readableReplicas().includes('replica2'), 10_000);
    const readable = performance.now() - t0 - started;
    console.log(`${engine}: replica started (${started.toFixed(0)} ms) → node-up ${Math.max(0, upMillis - started).toFixed(0)} ms, back in reads ${readable.toFixed(0)} ms later`);
    assert.deepEqual(monitor.readableReplicas(), ['replica1', 'replica2']);
  });

  test(`${engine}: replay paused beyond the bound → lagging; resumed → caught-up`, async () => {
    const load = keepWriting(writer);
    try {
      const lagging = waitForEvent(monitor, 'lagging', (e) => e.alias === 'replica1', 10_000);
      await cluster.pause('replica1');
      const { millis, args } = await lagging;
      console.log(`${engine}: replay paused → lagging in ${millis.toFixed(0)} ms (lag ${String(args[0].lagMillis)} ms, ${String(args[0].lagPosition)} ${prober.positionUnit} behind)`);
      assert.deepEqual(monitor.readableReplicas(), ['replica2']);
      assert.equal(monitor.status().nodes.find((n) => n.alias === 'replica1')!.paused, true);
      const caughtUp = waitForEvent(monitor, 'caught-up', (e) => e.alias === 'replica1', 10_000);
      await cluster.resume('replica1');
      const { millis: back } = await caughtUp;
      console.log(`${engine}: replay resumed → caught-up in ${back.toFixed(0)} ms`);
      assert.deepEqual(monitor.readableReplicas(), ['replica1', 'replica2']);
    } finally {
      await load.stop();
    }
  });

  test(`${engine}: a name that does not resolve and a server that never answers are bounded by the timeout`, async () => {
    const m = newMonitor({
      nodes: [
        ...nodes(),
        { alias: 'ghost', configuredRole: 'replica', address: 'no-such-node.invalid:5432' },
        { alias: 'silent', configuredRole: 'replica', address: `127.0.0.1:${(silent.address() as net.AddressInfo).port}` },
      ],
    }, engine === 'postgres'
      ? postgresProber({ connections: withBadNodes(connections, silent) })
      : mariadbProber({ connections: withBadNodes(connections, silent) }));
    const t0 = performance.now();
    await m.start();
    const startMillis = performance.now() - t0;
    assert.ok(startMillis < TIMING.checkTimeoutMillis + 500, `first round took ${startMillis} ms`);
    const st = m.status();
    const ghost = st.nodes.find((n) => n.alias === 'ghost')!;
    const quiet = st.nodes.find((n) => n.alias === 'silent')!;
    assert.equal(ghost.state, 'down');
    assert.match(ghost.lastError ?? '', /ENOTFOUND|EAI_AGAIN/);
    assert.equal(quiet.state, 'down');
    assert.match(quiet.lastError ?? '', /checkTimeoutMillis|timeout/i);
    assert.deepEqual(st.readableReplicas, ['replica1', 'replica2']);
    assert.equal(st.primary, 'default');
    console.log(`${engine}: first round with an unresolvable and a silent node: ${startMillis.toFixed(0)} ms`);
    await m.stop();
  });

  test(`${engine}: a configured primary that is a replica, and a replica of a different primary, are reported`, async () => {
    const problems: string[] = [];
    const p = newMonitor({
      nodes: [
        // replica1 claimed as primary; the real primary listed as a replica.
        { alias: 'replica1', configuredRole: 'primary', address: `127.0.0.1:${connections.replica1!.port}` },
        { alias: 'default', configuredRole: 'replica', address: `127.0.0.1:${connections.default!.port}` },
        { alias: 'replica2', configuredRole: 'replica', address: `127.0.0.1:${connections.replica2!.port}` },
      ],
    });
    p.on('problem', (e) => problems.push(`${e.alias}:${e.kind}`));
    const changed = waitForEvent(p, 'primary-changed', () => true, 5000);
    await p.start();
    assert.deepEqual((await changed).args[0], { from: 'replica1', to: 'default' });
    assert.ok(problems.includes('replica1:configured-primary-is-replica'), problems.join());
    await p.stop();

    // The same replicas, but the configured primary is a server they do not replicate from.
    const other = newMonitor({
      nodes: [
        { alias: 'silent-primary', configuredRole: 'primary', address: '127.0.0.1:1' },
        { alias: 'replica1', configuredRole: 'replica', address: `127.0.0.1:${connections.replica1!.port}` },
      ],
    }, engine === 'postgres'
      ? postgresProber({ connections: { ...connections, 'silent-primary': { ...connections.default!, port: 1 } } })
      : mariadbProber({ connections: { ...connections, 'silent-primary': { ...connections.default!, port: 1 } }, monitor: monitorUser }));
    await other.start();
    const r1 = other.status().nodes.find((n) => n.alias === 'replica1')!;
    assert.deepEqual(r1.problems.map((x) => x.kind), ['upstream-mismatch']);
    assert.match(r1.problems[0]!.message, /replicates from .*, not from the primary "silent-primary" \(127\.0\.0\.1:1\)/);
    await other.stop();
  });

  if (engine === 'mariadb') {
    test('mariadb: with the application user (no SLAVE MONITOR) the check still works and says what it lacks', async () => {
      const m = newMonitor({ nodes: nodes() }, mariadbProber({ connections }));
      await m.start();
      const st = m.status();
      assert.equal(st.primary, 'default');
      assert.deepEqual(st.readableReplicas, ['replica1', 'replica2']);
      assert.ok(st.nodes.every((n) => n.problems.some((x) => x.kind === 'limited-check')));
      await m.stop();
    });
  }

  test(`${engine}: primary killed and a replica promoted → primary-changed; findPrimary finds it`, async () => {
    const lost = waitForEvent(monitor, 'primary-lost', () => true, 5000);
    await cluster.kill('default');
    const { millis: lostMillis } = await lost;
    assert.equal(monitor.primary(), undefined);
    assert.deepEqual(monitor.readableReplicas(), ['replica1', 'replica2'], 'reads go on from replicas');
    const changed = waitForEvent(monitor, 'primary-changed', () => true, 10_000);
    const finding = monitor.findPrimary(10_000);
    const t0 = performance.now();
    await cluster.promote('replica1');
    const promoted = performance.now() - t0;
    const { args, millis } = await changed;
    assert.deepEqual(args[0], { from: 'default', to: 'replica1' });
    assert.equal(await finding, 'replica1');
    console.log(`${engine}: primary killed → primary-lost in ${lostMillis.toFixed(0)} ms; promote took ${promoted.toFixed(0)} ms → primary-changed ${Math.max(0, millis - promoted).toFixed(0)} ms after it returned`);
    assert.equal(monitor.primary(), 'replica1');
    // replica2 serves again once it streams from the new primary (PostgreSQL: until its WAL receiver
    // follows replica1 it is out of the reads — what it has may be history replica1 lacks).
    await waitUntil(() => monitor.readableReplicas().join() === 'replica2', 15_000);
    // replica2 now follows replica1: no upstream problem once re-pointed.
    await cluster.waitForAllReplicas();
    await waitUntil(() => monitor.status().nodes.find((n) => n.alias === 'replica2')?.upstream?.endsWith(`:${connections.replica1!.port}`) === true, 5000);
    assert.deepEqual(monitor.status().nodes.find((n) => n.alias === 'replica2')!.problems, []);
    assert.deepEqual(errors, []);
  });
}

function withBadNodes(connections: Record<string, ProbeConnection>, silent: net.Server): Record<string, ProbeConnection> {
  const base = connections.default!;
  return {
    ...connections,
    ghost: { ...base, host: 'no-such-node.invalid', port: 5432 },
    silent: { ...base, host: '127.0.0.1', port: (silent.address() as net.AddressInfo).port },
  };
}

async function waitUntil(condition: () => boolean, timeoutMillis: number): Promise<void> {
  const deadline = performance.now() + timeoutMillis;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
