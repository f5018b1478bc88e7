// Health and failover through the routed pools, under concurrent load, on a real cluster of this
// file's own (it kills, pauses and promotes). Shared by failover-postgres.test.ts and
// failover-mariadb.test.ts. Each read asks the server for its port, so we know where it ran.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCluster, isDbRouterError, type Cluster } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import { watchCluster, type ClusterHealth } from '../../src/health/cluster-health.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, ownCluster } from '../harness/clusters.js';
import { createMariadbMonitorUser } from './health-scenarios.js';

type EngineName = 'postgres' | 'mariadb';

// Each operation is a request of its own, as under the HTTP middleware: a fresh unit of work at the
// default `session` level (`withToken(undefined, …)`), so readers are not the writers' session.

interface Routed {
  read(): Promise<number>;
  write(v: number): Promise<void>;
  end(): Promise<void>;
}

interface Outcome { at: number; ok: boolean; port?: number; error?: string }

/** Readers and writers running flat out (with a short pause) until stopped. */
class Load {
  readonly reads: Outcome[] = [];
  readonly writes: Outcome[] = [];
  #running = true;
  #loops: Promise<void>[] = [];
  constructor(db: Routed, readers: number, writers: number) {
    let n = 0;
    for (let i = 0; i < readers; i++) this.#loops.push(this.#loop(async () => ({ port: await db.read() }), this.reads));
    for (let i = 0; i < writers; i++) this.#loops.push(this.#loop(async () => { await db.write(++n); return {}; }, this.writes));
  }
  async #loop(op: () => Promise<{ port?: number }>, into: Outcome[]): Promise<void> {
    while (this.#running) {
      try {
        const { port } = await op();
        into.push({ at: performance.now(), ok: true, ...(port !== undefined ? { port } : {}) });
      } catch (e) {
        into.push({ at: performance.now(), ok: false, error: isDbRouterError(e) ? e.code : (e as Error).message });
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  mark(): number {
    return performance.now();
  }
  failedReads(since = 0): Outcome[] {
    return this.reads.filter((o) => !o.ok && o.at >= since);
  }
  readPorts(since: number): Set<number> {
    return new Set(this.reads.filter((o) => o.ok && o.at >= since).map((o) => o.port!));
  }
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }
}

async function routedPg(cluster: Cluster): Promise<Routed> {
  const pool = createPgPool(cluster);
  pool.on('error', () => undefined);
  await pool.query('CREATE TABLE IF NOT EXISTS fo_ticks (id serial PRIMARY KEY, v int)');
  return {
    read: () => cluster.withToken(undefined, async () => Number((await pool.query<{ port: number }>('SELECT inet_server_port() AS port')).rows[0]!.port)),
    write: (v) => cluster.withToken(undefined, async () => { await pool.query('INSERT INTO fo_ticks (v) VALUES ($1)', [v]); }),
    end: () => pool.end(),
  };
}

async function routedMysql(cluster: Cluster): Promise<Routed> {
  const pool = createMysqlPool(cluster);
  pool.on('error', () => undefined);
  await pool.query('CREATE TABLE IF NOT EXISTS fo_ticks (id INT AUTO_INCREMENT PRIMARY KEY, v INT)');
  return {
    read: () => cluster.withToken(undefined, async () => {
      const [rows] = await pool.query('SELECT @@port AS port');
      return Number((rows as { port: number }[])[0]!.port);
    }),
    write: (v) => cluster.withToken(undefined, async () => { await pool.query('INSERT INTO fo_ticks (v) VALUES (?)', [v]); }),
    end: () => pool.end(),
  };
}

async function until(condition: () => boolean, timeoutMillis: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!condition()) {
    if (performance.now() - t0 > timeoutMillis) throw new Error(`${what}: not within ${timeoutMillis} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - t0;
}

export async function failoverScenarios(engine: EngineName): Promise<void> {
  const skip = await engineSkip(engine);
  describe(`failover under load on a real ${engine} cluster`, { skip }, () => scenarios(engine));
}

function scenarios(engine: EngineName): void {
  let local: LocalCluster;
  let cluster: Cluster;
  let health: ClusterHealth;
  let db: Routed;
  let load: Load;
  const port = (alias: string) => Number(new URL(local.databases[alias]!.url).port);
  const FAILOVER_TIMEOUT = 1500;

  before(async () => {
    local = await ownCluster(engine, { replicas: 2 });
    const monitor = engine === 'mariadb' ? await createMariadbMonitorUser(local) : undefined;
    cluster = createCluster({
      databases: Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role }])),
    });
    health = watchCluster(cluster, {
      checkIntervalMillis: 100, checkTimeoutMillis: 300, maxReplicationLagMillis: 1000, failoverTimeoutMillis: FAILOVER_TIMEOUT,
      ...(monitor ? { monitor } : {}),
    });
    health.on('error', () => undefined);
    await health.start();
    db = engine === 'postgres' ? await routedPg(cluster) : await routedMysql(cluster);
    load = new Load(db, 4, 2);
  });

  after(async () => {
    await load?.stop();
    await db?.end();
    await health?.stop();
    await cluster?.end();
    await local?.down();
  });

  test(`${engine}: a replica killed → no read fails, it is taken out; started again → it comes back`, async () => {
    await until(() => load.readPorts(0).size === 2, 5000, 'reads on both replicas');
    const t0 = load.mark();
    await local.kill('replica2');
    const out = await until(() => cluster.nodeState('replica2') === 'down', 5000, 'replica2 out');
    const afterOut = load.mark();
    await until(() => load.reads.filter((o) => o.at > afterOut).length > 50, 5000, 'reads after');
    assert.deepEqual(load.failedReads(t0), [], 'no read failed');
    assert.ok(!load.readPorts(afterOut + 50).has(port('replica2')), 'no read on the dead replica');
    const t1 = load.mark();
    await local.start('replica2');
    const back = await until(() => load.readPorts(load.mark() - 100).has(port('replica2')), 10_000, 'reads back on replica2');
    console.log(`${engine}: replica killed → out of reads in ${out.toFixed(0)} ms; restarted → reads back ${back.toFixed(0)} ms after start() returned; failed reads ${load.failedReads(t0).length}`);
    assert.deepEqual(load.failedReads(t1), []);
  });

  test(`${engine}: a replica paused beyond the lag bound → out; resumed → back`, async () => {
    const t0 = load.mark();
    await local.pause('replica1');
    const out = await until(() => cluster.nodeState('replica1') === 'lagging', 10_000, 'replica1 lagging');
    const afterOut = load.mark();
    await until(() => load.reads.filter((o) => o.at > afterOut).length > 50, 5000, 'reads after');
    assert.ok(!load.readPorts(afterOut + 20).has(port('replica1')), 'no read on the late replica');
    await local.resume('replica1');
    const back = await until(() => cluster.nodeState('replica1') === 'up', 10_000, 'replica1 back');
    console.log(`${engine}: replay paused → out of reads in ${out.toFixed(0)} ms; resumed → back in ${back.toFixed(0)} ms`);
    assert.deepEqual(load.failedReads(t0), []);
  });

  test(`${engine}: every replica down → reads go to the primary, none fails; back when they are`, async () => {
    const t0 = load.mark();
    // One LocalCluster operation at a time: they share its state file.
    await local.kill('replica1');
    await local.kill('replica2');
    await until(() => cluster.nodeState('replica1') === 'down' && cluster.nodeState('replica2') === 'down', 5000, 'both replicas out');
    const afterOut = load.mark();
    await until(() => load.reads.filter((o) => o.at > afterOut).length > 50, 5000, 'reads after');
    assert.deepEqual(load.readPorts(afterOut), new Set([port('default')]));
    await local.start('replica1');
    await local.start('replica2');
    const back = await until(() => cluster.nodeState('replica1') === 'up' && cluster.nodeState('replica2') === 'up', 10_000, 'replicas back');
    console.log(`${engine}: every replica down → reads on the primary; both back ${back.toFixed(0)} ms after start() returned; failed reads ${load.failedReads(t0).length}`);
    assert.deepEqual(load.failedReads(t0), []);
  });

  test(`${engine}: the primary killed and a replica promoted → writes resume on it; reads never stop`, async () => {
    const t0 = load.mark();
    const writesBefore = load.writes.length;
    await local.kill('default');
    await local.promote('replica1');
    const promoted = load.mark();
    await until(() => load.writes.some((o) => o.ok && o.at > promoted), 10_000, 'a write after promotion');
    const firstWrite = load.writes.find((o) => o.ok && o.at > promoted)!.at;
    await until(() => load.reads.filter((o) => o.at > firstWrite).length > 50, 5000, 'reads after');
    const failedWrites = load.writes.slice(writesBefore).filter((o) => !o.ok);
    console.log(`${engine}: primary killed + replica1 promoted → first write ${(firstWrite - promoted).toFixed(0)} ms after promote() returned; failed writes ${failedWrites.length} (${[...new Set(failedWrites.map((o) => o.error))].join('; ')}), failed reads ${load.failedReads(t0).length}`);
    assert.deepEqual(load.failedReads(t0), [], 'reads never failed');
    assert.equal(health.status().primary, 'replica1');
    assert.equal(cluster.route('INSERT INTO fo_ticks (v) VALUES (1)').node.alias, 'replica1');
    assert.ok(failedWrites.every((o) => o.error !== 'PRIMARY_UNAVAILABLE'), 'no write waited past the bound');
  });

  test(`${engine}: no primary past failoverTimeoutMillis → PRIMARY_UNAVAILABLE while reads go on; recovery once it is back`, async () => {
    // replica2 follows the promoted replica1 once its stream restarts (PostgreSQL retries every
    // wal_retrieve_retry_interval, 5 s): until then it is out of the reads and they are on the primary.
    await until(() => health.status().readableReplicas.includes('replica2'), 15_000, 'replica2 streams from replica1');
    const t0 = load.mark();
    await local.kill('replica1');
    await until(() => load.writes.some((o) => !o.ok && o.error === 'PRIMARY_UNAVAILABLE' && o.at > t0), FAILOVER_TIMEOUT + 5000, 'PRIMARY_UNAVAILABLE');
    const failedAt = load.writes.find((o) => !o.ok && o.error === 'PRIMARY_UNAVAILABLE' && o.at > t0)!.at;
    console.log(`${engine}: no primary → first PRIMARY_UNAVAILABLE after ${(failedAt - t0).toFixed(0)} ms (failoverTimeoutMillis ${FAILOVER_TIMEOUT})`);
    assert.ok(failedAt - t0 >= FAILOVER_TIMEOUT - 50, 'writes waited for the bound first');
    const readsDuring = load.reads.filter((o) => o.at > t0 && o.at < failedAt + 200);
    assert.ok(readsDuring.length > 20 && readsDuring.every((o) => o.ok && o.port === port('replica2')), 'reads went on from the replica');
    const t1 = load.mark();
    await local.start('replica1');
    const recovered = await until(() => load.writes.some((o) => o.ok && o.at > t1), 10_000, 'writes recover');
    console.log(`${engine}: primary back → writes recover ${recovered.toFixed(0)} ms after start() returned`);
    assert.deepEqual(load.failedReads(t0), []);
  });
}
