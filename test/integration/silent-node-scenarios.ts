// Issue 9 follow-up: a statement already in flight on an open connection to a node that then goes
// silent (a partition, not a crash: no RST, no FIN). Every node of a cluster of this file's own is
// reached through a userspace TCP proxy (test/harness/tcp-proxy.ts) that can stop forwarding while
// keeping its sockets open. The health monitor runs with its defaults: once a node fails its checks,
// dbrouter destroys its pooled connections, so the statement fails at once and follows the outcome
// rules (a read is retried elsewhere, a write is WRITE_OUTCOME_UNKNOWN, a transaction
// TRANSACTION_LOST). A node that is slow but answers its checks keeps its long statement running.
// Every result asks the server for its port, so we know where it ran; the proxy ports differ from
// the servers' own. Shared by silent-node-postgres.test.ts and silent-node-mariadb.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { createCluster, isDbRouterError, primaryReplica, type Cluster } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import { createMariadbPool } from '../../src/engines/mysql/mariadb-connector.js';
import { watchCluster, type ClusterHealth } from '../../src/health/cluster-health.js';
import type { NodeDownEvent } from '../../src/health/monitor.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, ownCluster } from '../harness/clusters.js';
import { direct, until } from '../harness/direct.js';
import { startProxy, type TcpProxy } from '../harness/tcp-proxy.js';
import { dropPort, packetDropSkip, unacknowledgedTo } from '../harness/packet-drop.js';

type EngineName = 'postgres' | 'mariadb';
type Row = Record<string, unknown>;

interface CheckedOut {
  query(sql: string): Promise<Row[]>;
  release(): void;
}

/** One routed pool's paths, the same for every driver. */
interface Api {
  readonly name: string;
  pool(sql: string): Promise<Row[]>;
  checkout(): Promise<CheckedOut>;
  end(): Promise<void>;
}

function pgApi(cluster: Cluster): Api {
  const pool = createPgPool(cluster);
  pool.on('error', () => undefined);
  return {
    name: 'pg',
    pool: async (sql) => (await pool.query(sql)).rows,
    checkout: async () => {
      const c = await pool.connect();
      c.on('error', () => undefined);
      return { query: async (sql) => (await c.query(sql)).rows, release: () => c.release() };
    },
    end: () => pool.end(),
  };
}

function mysql2Api(cluster: Cluster): Api {
  const pool = createMysqlPool(cluster);
  pool.on('error', () => undefined);
  return {
    name: 'mysql2',
    pool: async (sql) => (await pool.query(sql))[0] as Row[],
    checkout: async () => {
      const c = await pool.getConnection();
      return { query: async (sql) => (await c.query(sql))[0] as Row[], release: () => c.release() };
    },
    end: () => pool.end(),
  };
}

/** The mariadb connector answers a SELECT with rows (plus `meta`), anything else with one OK result. */
const rowsOf = (r: unknown): Row[] => (Array.isArray(r) ? [...r as Row[]] : [r as Row]);

function mariadbApi(cluster: Cluster): Api {
  const pool = createMariadbPool(cluster);
  pool.on('error', () => undefined);
  return {
    name: 'mariadb connector',
    pool: async (sql) => rowsOf(await pool.query(sql)),
    checkout: async () => {
      const c = await pool.getConnection();
      return { query: async (sql) => rowsOf(await c.query(sql)), release: () => void c.release() };
    },
    end: () => pool.end(),
  };
}

/**
 * Settles `p` and says when (ms since `t0`), without letting a rejection go unhandled. With
 * `boundMillis`, a `p` still pending then is an outcome too (an error saying so), so that the test
 * goes on to its assertions and its clean-up rather than to the runner's timeout.
 */
async function outcome<T>(p: Promise<T>, t0: () => number, boundMillis?: number): Promise<{ value?: T; error?: unknown; at: number }> {
  let timer: NodeJS.Timeout | undefined;
  const bounded = boundMillis === undefined ? p : Promise.race([p, new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${boundMillis} ms`)), boundMillis);
  })]);
  try {
    const value = await bounded;
    return { value, at: performance.now() - t0() };
  } catch (error) {
    return { error, at: performance.now() - t0() };
  } finally {
    clearTimeout(timer);
  }
}

/** `work`, or nothing once `ms` have passed (a clean-up that must not hold a failed test). */
async function atMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => undefined), new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); })]);
  clearTimeout(timer);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

// The monitor's defaults: a check every 1000 ms, each bounded by 1000 ms, down after 2 failures.
// From going silent to down: at most one interval until the next check starts, then two timed-out
// checks one interval apart.
const INTERVAL = 1000;
const TIMEOUT = 1000;
const DOWN_BOUND = INTERVAL + 2 * TIMEOUT + INTERVAL;
// A loaded 2-core machine: generous, and still far below TCP's minutes.
const MARGIN = 3000;
const ROUNDS = Math.max(1, Number(process.env.DBROUTER_SILENT_ROUNDS ?? 1));

export async function silentNodeScenarios(engine: EngineName): Promise<void> {
  const skip = await engineSkip(engine);
  describe(`a node that goes silent under a statement, on a real ${engine} cluster`, { skip }, () => scenarios(engine));
}

function scenarios(engine: EngineName): void {
  const pgEngine = engine === 'postgres';
  let local: LocalCluster;
  let cluster: Cluster;
  let health: ClusterHealth;
  let apis: Api[] = [];
  const proxies: Record<string, TcpProxy> = {};
  const downs: (NodeDownEvent & { at: number })[] = [];
  const unhandled: unknown[] = [];
  const timings: Record<string, number[]> = {};
  const onUnhandled = (e: unknown) => unhandled.push(e);
  const port = (alias: string) => Number(new URL(local.databases[alias]!.url).port);
  const portOf = (rows: Row[]) => Number(rows[0]!.port);
  const PORT = pgEngine ? 'inet_server_port()' : '@@port';
  const sleepRead = (marker: string, seconds: number) => (pgEngine
    ? `SELECT pg_sleep(${seconds}), ${PORT} AS port, (SELECT v FROM sn_data WHERE id = 1) AS v, '${marker}' AS marker`
    : `SELECT SLEEP(${seconds}) AS s, ${PORT} AS port, (SELECT v FROM sn_data WHERE id = 1) AS v, '${marker}' AS marker`);
  const quickRead = (marker: string) => `SELECT ${PORT} AS port, (SELECT v FROM sn_data WHERE id = 1) AS v, '${marker}' AS marker`;
  const sleepInsert = (marker: string) => (pgEngine
    ? `INSERT INTO sn_out (marker) SELECT '${marker}' FROM pg_sleep(2)`
    : `INSERT INTO sn_out (marker, s) VALUES ('${marker}', SLEEP(2))`);
  const insert = (marker: string) => `INSERT INTO sn_out (marker) VALUES ('${marker}')`;
  const record = (what: string, ms: number) => (timings[what] ??= []).push(Math.round(ms));

  /** The alias among `aliases` on which a statement containing `marker` runs now (asked of the servers themselves). */
  async function runningOn(marker: string, aliases: readonly string[]): Promise<string> {
    const conns = await Promise.all(aliases.map((a) => direct(engine, local.databases[a]!.url)));
    try {
      const find = pgEngine
        ? `SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%${marker}%' AND pid <> pg_backend_pid()`
        : `SELECT id FROM information_schema.processlist WHERE info LIKE '%${marker}%' AND id <> CONNECTION_ID()`;
      const t0 = performance.now();
      for (;;) {
        for (const [i, c] of conns.entries()) if ((await c.query(find)).length > 0) return aliases[i]!;
        if (performance.now() - t0 > 5000) throw new Error(`${marker} never ran on ${aliases.join(', ')}`);
        await delay(5);
      }
    } finally {
      await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
    }
  }

  async function countOn(alias: string, marker: string): Promise<number> {
    const c = await direct(engine, local.databases[alias]!.url);
    try {
      return Number((await c.query(`SELECT count(*) AS n FROM sn_out WHERE marker = '${marker}'`))[0]!.n);
    } finally {
      await c.end();
    }
  }

  const allUp = () => {
    const st = health.status();
    return st.primaryAvailable && st.nodes.every((n) => n.state === 'up' && !n.lagging) && st.readableReplicas.length === 2;
  };

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    local = await ownCluster(engine, { replicas: 2 });
    const databases: Record<string, { url: string; role: 'primary' | 'replica' }> = {};
    for (const [alias, d] of Object.entries(local.databases)) {
      const proxy = await startProxy(Number(new URL(d.url).port));
      proxies[alias] = proxy;
      const url = new URL(d.url);
      url.port = String(proxy.port);
      databases[alias] = { url: url.toString(), role: d.role };
    }
    // Round-robin, so that concurrent reads land on both replicas; the monitor with its defaults.
    cluster = createCluster({ databases, routers: [primaryReplica({ strategy: 'round-robin' })] });
    cluster.on('error', () => undefined);
    health = watchCluster(cluster);
    health.on('error', () => undefined);
    health.on('node-down', (e) => downs.push({ ...e, at: performance.now() }));
    await health.start();
    apis = pgEngine ? [pgApi(cluster)] : [mysql2Api(cluster), mariadbApi(cluster)];
    const setup = await direct(engine, local.databases.default!.url);
    await setup.query(pgEngine ? 'CREATE TABLE sn_data (id int PRIMARY KEY, v text)' : 'CREATE TABLE sn_data (id INT PRIMARY KEY, v VARCHAR(64))');
    await setup.query("INSERT INTO sn_data VALUES (1, 'the-value')");
    await setup.query(pgEngine
      ? 'CREATE TABLE sn_out (id serial PRIMARY KEY, marker text, s int)'
      : 'CREATE TABLE sn_out (id INT AUTO_INCREMENT PRIMARY KEY, marker VARCHAR(64), s INT)');
    await setup.end();
    await local.waitForAllReplicas();
    await until(allUp, 10_000, 'every node up');
  });

  after(async () => {
    process.removeListener('unhandledRejection', onUnhandled);
    for (const [what, xs] of Object.entries(timings)) {
      process.stdout.write(`# ${engine} ${what}: median ${median(xs)} ms (runs ${xs.join(', ')}; down bound ${DOWN_BOUND} ms)\n`);
    }
    for (const p of Object.values(proxies)) p.restore();
    await Promise.all(apis.map((a) => a.end()));
    await cluster?.end();
    await Promise.all(Object.values(proxies).map((p) => p.close()));
    await local?.down();
  });

  for (const apiIndex of pgEngine ? [0] : [0, 1]) {
    const api = () => apis[apiIndex]!;
    const label = pgEngine ? 'pg' : apiIndex === 0 ? 'mysql2' : 'mariadb connector';

    test(`${engine} (${label}): a read in flight on a replica that goes silent is retried on another node within the check bound, and reads issued meanwhile complete elsewhere`, { timeout: 120_000 }, async (t) => {
      for (let round = 0; round < ROUNDS; round++) {
        await until(allUp, 15_000, 'every node up');
        // Warm connections to both replicas, so the reads issued while silent find one open.
        await Promise.all(Array.from({ length: 6 }, (_, i) => api().pool(sleepRead(`warm_${apiIndex}_${round}_${i}`, 0.2))));
        const marker = `inflight_read_${apiIndex}_${round}`;
        const read = api().pool(sleepRead(marker, 1));
        read.catch(() => undefined);
        const silent = await runningOn(marker, ['replica1', 'replica2']);
        const other = silent === 'replica1' ? 'replica2' : 'replica1';
        const downsBefore = downs.length;
        const t0 = performance.now();
        proxies[silent]!.silence();
        t.after(() => proxies[silent]!.restore());
        const since = () => t0;
        const inFlight = outcome(read, since);
        // Issued after the node went silent, before the monitor has noticed: half land on it.
        const later = Array.from({ length: 4 }, (_, i) => outcome(api().pool(quickRead(`${marker}_later_${i}`)), since));
        const results = [await inFlight, ...(await Promise.all(later))];
        for (const [i, r] of results.entries()) {
          assert.equal(r.error, undefined, `read ${i} failed: ${String(r.error)}`);
          const rows = r.value!;
          assert.equal(rows[0]!.v, 'the-value', 'the read saw the data');
          assert.notEqual(portOf(rows), port(silent), `read ${i} answered by another node than the silent ${silent}`);
          assert.ok([port(other), port('default')].includes(portOf(rows)));
        }
        const down = downs.slice(downsBefore).find((d) => d.alias === silent);
        assert.ok(down !== undefined && down.unreachable, `${silent} was found down`);
        // The in-flight read re-ran its 1 s sleep elsewhere after the cut.
        assert.ok(results[0]!.at < DOWN_BOUND + 1000 + MARGIN, `in-flight read settled after ${Math.round(results[0]!.at)} ms`);
        for (const r of results.slice(1)) assert.ok(r.at < DOWN_BOUND + MARGIN, `a later read settled after ${Math.round(r.at)} ms`);
        record(`${label}: silent replica → down`, down.at - t0);
        record(`${label}: in-flight 1 s read on a silent replica → its result from another node`, results[0]!.at);
        record(`${label}: reads issued while silent → all answered`, Math.max(...results.slice(1).map((r) => r.at)));
        assert.ok(downs.slice(downsBefore).every((d) => d.alias === silent), 'no other node went down');
        proxies[silent]!.restore();
      }
    });

    test(`${engine} (${label}): a primary that goes silent: the write in flight is WRITE_OUTCOME_UNKNOWN, the transaction TRANSACTION_LOST, held clients get typed errors, within the check bound`, { timeout: 120_000 }, async (t) => {
      for (let round = 0; round < ROUNDS; round++) {
        await until(allUp, 15_000, 'every node up');
        const m = (s: string) => `${s}_${apiIndex}_${round}`;
        // A transaction with nothing in flight, and a client bound to the primary by a write.
        const idleTx = await api().checkout();
        await idleTx.query('BEGIN');
        await idleTx.query(insert(m('idle_tx')));
        const bound = await api().checkout();
        await bound.query(insert(m('bound')));
        // A transaction with a statement in flight, and a write in flight (2 s each, on the server).
        const tx = await api().checkout();
        await tx.query('BEGIN');
        await tx.query(insert(m('tx_before')));
        const txCut = tx.query(sleepInsert(m('tx_cut')));
        txCut.catch(() => undefined);
        const write = api().pool(sleepInsert(m('w_cut')));
        write.catch(() => undefined);
        assert.equal(await runningOn(m('w_cut'), ['default']), 'default');
        assert.equal(await runningOn(m('tx_cut'), ['default']), 'default');
        const downsBefore = downs.length;
        const t0 = performance.now();
        proxies.default!.silence();
        t.after(() => proxies.default!.restore());
        const since = () => t0;
        const [w, c] = await Promise.all([outcome(write, since), outcome(txCut, since)]);
        assert.ok(isDbRouterError(w.error, 'WRITE_OUTCOME_UNKNOWN'), `the write: WRITE_OUTCOME_UNKNOWN, got ${String(w.error)}`);
        assert.match(w.error.message, /may or may not have committed/);
        assert.ok(isDbRouterError(c.error, 'TRANSACTION_LOST'), `the transaction: TRANSACTION_LOST, got ${String(c.error)}`);
        // The cause says why (pg reports the closed socket in its own words).
        assert.match(String((w.error.cause as Error).message), pgEngine ? /Connection terminated unexpectedly/ : /failed its health checks/);
        assert.ok(w.at < DOWN_BOUND + MARGIN, `the write settled after ${Math.round(w.at)} ms`);
        assert.ok(c.at < DOWN_BOUND + MARGIN, `the transaction settled after ${Math.round(c.at)} ms`);
        const down = downs.slice(downsBefore).find((d) => d.alias === 'default');
        assert.ok(down !== undefined, 'the primary was found down');
        // Held clients whose connection was destroyed: the next statement fails at once, typed.
        const t1 = performance.now();
        await assert.rejects(idleTx.query('SELECT 1'), (e) => isDbRouterError(e, 'TRANSACTION_LOST'));
        await assert.rejects(bound.query('SELECT 1'), (e) => isDbRouterError(e, 'CONNECTION_LOST'));
        await assert.rejects(tx.query('ROLLBACK'), (e) => e === c.error, 'ROLLBACK fails with the same error');
        assert.ok(performance.now() - t1 < 1000, 'held clients answered at once');
        tx.release();
        idleTx.release();
        bound.release();
        record(`${label}: silent primary → down`, down.at - t0);
        record(`${label}: in-flight write on a silent primary → WRITE_OUTCOME_UNKNOWN`, w.at);
        record(`${label}: in-flight statement in a transaction on a silent primary → TRANSACTION_LOST`, c.at);
        proxies.default!.restore();
        // The write had run: its outcome really was unknown to the caller. Nothing of either
        // transaction committed (the server rolls them back once their sessions close).
        await until(async () => (await countOn('default', m('w_cut'))) === 1, 10_000, 'the cut write committed on the server');
        await until(async () => (await countOn('default', m('tx_before'))) + (await countOn('default', m('tx_cut'))) + (await countOn('default', m('idle_tx'))) === 0, 10_000, 'nothing of the transactions');
        assert.equal(await countOn('default', m('bound')), 1);
        await until(allUp, 15_000, 'the primary back');
        // Writes work again through the same pool.
        await api().pool(insert(m('after')));
        assert.equal(await countOn('default', m('after')), 1);
      }
    });
  }

  test(`${engine}: a replica that lags and answers slowly, but within the check bound, keeps its long statement running`, { timeout: 60_000 }, async () => {
    await until(allUp, 15_000, 'every node up');
    const downsBefore = downs.length;
    proxies.replica2!.delay(100);
    await local.pause('replica2');
    watchCluster(cluster, { maxReplicationLagMillis: 300 });
    try {
      await apis[0]!.pool(insert('lag_maker'));
      await until(() => health.status().nodes.find((n) => n.alias === 'replica2')?.lagging === true, 10_000, 'replica2 lagging');
      const states = new Set<string>();
      const sampling = setInterval(() => states.add(health.status().nodes.find((n) => n.alias === 'replica2')!.state), 50);
      const t0 = performance.now();
      const rows = await cluster.using('replica2', () => apis[0]!.pool(sleepRead('slow_long', 5)));
      clearInterval(sampling);
      assert.ok(performance.now() - t0 >= 5000);
      assert.equal(portOf(rows), port('replica2'), 'ran to its end on the slow replica');
      assert.equal(rows[0]!.v, 'the-value');
      assert.deepEqual([...states], ['up'], 'replica2 stayed up (lagging) throughout');
      assert.equal(downs.slice(downsBefore).length, 0, 'no node went down');
    } finally {
      proxies.replica2!.delay(0);
      await local.resume('replica2');
      watchCluster(cluster, { maxReplicationLagMillis: 10_000 });
    }
    await until(allUp, 20_000, 'replica2 caught up');
  });

  // Without a monitor nothing decides a node is down: TCP keepalive (on by default) is the bound.
  // The kernel must see the silence, so packets to and from the proxy's port are dropped (iptables);
  // the first probe is set to 2 s here (10 s by default) to keep the test short.
  const dropSkip = packetDropSkip();
  // Past keepalive's own bound (first probe, 10 probes, the read's 1 s again), well within the test's timeout.
  const SETTLE_BOUND = 2000 + 10_000 + 1000 + 2 * MARGIN;
  for (const apiIndex of pgEngine ? [0] : [0, 1]) {
    const label = pgEngine ? 'pg' : apiIndex === 0 ? 'mysql2' : 'mariadb connector';
    test(`${engine} (${label}), no monitor: keepalive fails the read and the write in flight on silent nodes (retried / WRITE_OUTCOME_UNKNOWN)`, { skip: dropSkip, timeout: 60_000 }, async () => {
      await until(allUp, 15_000, 'every node up');
      const keepAlive = pgEngine ? { keepAliveInitialDelayMillis: 2000 } : apiIndex === 0 ? { keepAliveInitialDelay: 2000 } : { keepAliveDelay: 2000 };
      const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => {
        const url = new URL(d.url);
        url.port = String(proxies[alias]!.port);
        return [alias, { url: url.toString(), role: d.role, driverOptions: keepAlive }];
      }));
      const plain = createCluster({ databases, health: false, routers: [primaryReplica({ strategy: 'round-robin' })] });
      plain.on('error', () => undefined);
      const a = pgEngine ? pgApi(plain) : apiIndex === 0 ? mysql2Api(plain) : mariadbApi(plain);
      const undo: (() => void)[] = [];
      try {
        await Promise.all(Array.from({ length: 4 }, (_, i) => a.pool(sleepRead(`ka_warm_${apiIndex}_${i}`, 0.1))));
        const m = (s: string) => `${s}_${apiIndex}`;
        const read = a.pool(sleepRead(m('ka_read'), 1));
        const write = a.pool(sleepInsert(m('ka_write')));
        read.catch(() => undefined);
        write.catch(() => undefined);
        const silent = await runningOn(m('ka_read'), ['replica1', 'replica2']);
        assert.equal(await runningOn(m('ka_write'), ['default']), 'default');
        // Keepalive probes only a connection with nothing unacknowledged. Dropped within the few ms
        // the proxy's kernel delays its ACK of the statement, the statement would be retransmitted
        // for many minutes instead (a different bound, the monitor's case): drop once it is acknowledged.
        const cut = [proxies[silent]!.port, proxies.default!.port];
        await until(() => cut.every((p) => unacknowledgedTo(p) === 0), 5000, 'the statements acknowledged by the proxies\' kernel');
        const t0 = performance.now();
        undo.push(...cut.map((p) => dropPort(p)));
        const since = () => t0;
        const [r, w] = await Promise.all([outcome(read, since, SETTLE_BOUND), outcome(write, since, SETTLE_BOUND)]);
        assert.equal(r.error, undefined, `the read: ${String(r.error)}`);
        assert.equal(r.value![0]!.v, 'the-value');
        assert.equal(portOf(r.value!), port(silent === 'replica1' ? 'replica2' : 'replica1'), 'retried on the other replica');
        assert.ok(isDbRouterError(w.error, 'WRITE_OUTCOME_UNKNOWN'), `the write: ${String(w.error)}`);
        assert.equal((w.error.cause as { code?: string }).code, 'ETIMEDOUT');
        // 2 s, then 10 probes 1 s apart (Linux, Node's settings); the read then runs its 1 s again.
        assert.ok(w.at > 2000 && w.at < 2000 + 10_000 + MARGIN, `the write settled after ${Math.round(w.at)} ms`);
        assert.ok(r.at < 2000 + 10_000 + 1000 + MARGIN, `the read settled after ${Math.round(r.at)} ms`);
        record(`${label}, no monitor, keepalive 2 s: in-flight write → WRITE_OUTCOME_UNKNOWN`, w.at);
        record(`${label}, no monitor, keepalive 2 s: in-flight 1 s read → answered by another replica`, r.at);
      } finally {
        // First, and whatever happened: the DROP rules outlive the process otherwise.
        for (const u of undo) u();
        await atMost(a.end(), 10_000);
        await atMost(plain.end(), 10_000);
      }
    });
  }

  test(`${engine}: no unhandled rejection`, () => {
    assert.deepEqual(unhandled, []);
  });
}
