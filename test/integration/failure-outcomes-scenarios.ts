// Issue 9, items 2, 3 and 7 on real servers of this file's own (it kills and promotes): what a
// statement meets when its node dies, on each path (pool.query, its callback form, a free
// checked-out client, a bound one, a transaction). Every result asks the server for its port, so
// we know where it ran. The monitor checks rarely (every 60 s): a statement issued after a kill
// meets the dead node before the monitor has noticed, as in the ~2 s of a real failover.
// Shared by failure-outcomes-postgres.test.ts and failure-outcomes-mariadb.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { createCluster, isDbRouterError, type Cluster } from '../../src/index.js';
import { createPgPool, type RoutedPgClient } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import { watchCluster, type ClusterHealth } from '../../src/health/cluster-health.js';
import { createSessionStore, type SessionStore } from '../../src/http/session-store.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, ownCluster } from '../harness/clusters.js';
import { direct, until } from '../harness/direct.js';
import { createMariadbMonitorUser } from './health-scenarios.js';

type EngineName = 'postgres' | 'mariadb';
type Row = Record<string, unknown>;

interface CheckedOut {
  query(sql: string): Promise<Row[]>;
  release(): void;
}

/** One routed pool's paths, the same for both engines. */
interface Api {
  pool(sql: string): Promise<Row[]>;
  poolCallback(sql: string): Promise<Row[]>;
  checkout(): Promise<CheckedOut>;
  /** mysql2 `getConnection(cb)` / pg `connect(cb)`: the form Kysely's MysqlDialect uses. */
  checkoutCallback(): Promise<CheckedOut>;
  end(): Promise<void>;
}

function pgApi(cluster: Cluster): Api {
  const pool = createPgPool(cluster);
  pool.on('error', () => undefined);
  const wrap = (c: RoutedPgClient): CheckedOut => {
    c.on('error', () => undefined);
    return { query: async (sql) => (await c.query(sql)).rows, release: () => c.release() };
  };
  return {
    pool: async (sql) => (await pool.query(sql)).rows,
    poolCallback: (sql) => new Promise((resolve, reject) => pool.query(sql, (e, r) => (e ? reject(e) : resolve(r.rows as Row[])))),
    checkout: async () => wrap(await pool.connect()),
    checkoutCallback: () => new Promise((resolve, reject) => pool.connect((e, c) => (e || !c ? reject(e ?? new Error('no client')) : resolve(wrap(c))))),
    end: () => pool.end(),
  };
}

function mysqlApi(cluster: Cluster): Api {
  const pool = createMysqlPool(cluster);
  pool.on('error', () => undefined);
  const wrap = (c: { query(sql: string): Promise<[unknown, unknown]>; release(): void }): CheckedOut => ({
    query: async (sql) => (await c.query(sql))[0] as Row[],
    release: () => c.release(),
  });
  return {
    pool: async (sql) => (await pool.query(sql))[0] as Row[],
    poolCallback: (sql) => new Promise((resolve, reject) => pool.query(sql, (e: Error | null, rows?: unknown) => (e ? reject(e) : resolve(rows as Row[])))),
    checkout: async () => wrap(await pool.getConnection()),
    checkoutCallback: () => new Promise((resolve, reject) => pool.getConnection((e, c) => (e || !c ? reject(e ?? new Error('no connection')) : resolve(wrap(c))))),
    end: () => pool.end(),
  };
}

export async function failureOutcomeScenarios(engine: EngineName): Promise<void> {
  const skip = await engineSkip(engine);
  describe(`failure outcomes on a real ${engine} cluster`, { skip }, () => scenarios(engine));
}

function scenarios(engine: EngineName): void {
  const pgEngine = engine === 'postgres';
  let local: LocalCluster;
  let cluster: Cluster;
  let health: ClusterHealth;
  let api: Api;
  let plain: Cluster;
  let plainApi: Api;
  let monitorUser: { user: string; password: string } | undefined;
  let store: SessionStore;
  const port = (alias: string) => Number(new URL(local.databases[alias]!.url).port);
  const portOf = (rows: Row[]) => Number(rows[0]!.port);
  const errors = (alias: string) => cluster.stats().byAlias[alias]?.errors ?? 0;
  const PORT = pgEngine ? 'inet_server_port()' : '@@port';
  const sleepRead = (marker: string) => (pgEngine
    ? `SELECT pg_sleep(1), ${PORT} AS port, '${marker}' AS marker`
    : `SELECT SLEEP(1) AS s, ${PORT} AS port, '${marker}' AS marker`);
  const sleepInsert = (marker: string) => (pgEngine
    ? `INSERT INTO fo_out (marker) SELECT '${marker}' FROM pg_sleep(1)`
    : `INSERT INTO fo_out (marker, s) VALUES ('${marker}', SLEEP(1))`);
  const insert = (marker: string) => `INSERT INTO fo_out (marker) VALUES ('${marker}')`;

  /** Waits until `marker`'s statement runs on one of `aliases`, kills its connection there, and returns that alias. */
  async function killWhenRunning(marker: string, aliases: readonly string[]): Promise<string> {
    const conns = await Promise.all(aliases.map((a) => direct(engine, local.databases[a]!.url)));
    try {
      const find = pgEngine
        ? `SELECT pid AS id FROM pg_stat_activity WHERE query LIKE '%${marker}%' AND pid <> pg_backend_pid()`
        : `SELECT id FROM information_schema.processlist WHERE info LIKE '%${marker}%' AND id <> CONNECTION_ID()`;
      const t0 = performance.now();
      for (;;) {
        for (const [i, c] of conns.entries()) {
          const rows = await c.query(find);
          if (rows.length === 0) continue;
          const id = Number(rows[0]!.id);
          await c.query(pgEngine ? `SELECT pg_terminate_backend(${id})` : `KILL CONNECTION ${id}`);
          return aliases[i]!;
        }
        if (performance.now() - t0 > 5000) throw new Error(`${marker} never ran on ${aliases.join(', ')}`);
        await delay(10);
      }
    } finally {
      await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
    }
  }

  /**
   * Waits until `alias` has received (not applied) everything its primary `from` has written: a
   * write it never received is lost at its promotion whatever the router does (asynchronous
   * replication), and this test is about the router.
   */
  async function received(from: string, alias: string): Promise<void> {
    const src = await direct(engine, local.databases[from]!.url);
    const url = new URL(local.databases[alias]!.url);
    if (monitorUser) {
      url.username = monitorUser.user;
      url.password = monitorUser.password;
      url.pathname = '/';
    }
    const dst = await direct(engine, url.toString());
    try {
      if (pgEngine) {
        const lsn = String((await src.query('SELECT pg_current_wal_lsn() AS p'))[0]!.p);
        await until(async () => (await dst.query(`SELECT pg_last_wal_receive_lsn() >= '${lsn}'::pg_lsn AS ok`))[0]!.ok === true, 5000, `${alias} received ${lsn}`);
      } else {
        const seqs = (pos: string) => new Map(pos.split(',').filter(Boolean).map((g) => g.trim().split('-')).map(([d, , n]) => [d, Number(n)]));
        const want = seqs(String((await src.query('SELECT @@gtid_binlog_pos AS p'))[0]!.p));
        await until(async () => {
          const io = (await dst.query('SHOW SLAVE STATUS'))[0]?.Gtid_IO_Pos;
          const have = seqs(typeof io === 'string' ? io : '');
          return [...want].every(([d, n]) => (have.get(d) ?? -1) >= n);
        }, 5000, `${alias} received ${[...want].join(',')}`);
      }
    } finally {
      await src.end();
      await dst.end();
    }
  }

  async function countOn(alias: string, marker: string): Promise<number> {
    const c = await direct(engine, local.databases[alias]!.url);
    try {
      return Number((await c.query(`SELECT count(*) AS n FROM fo_out WHERE marker = '${marker}'`))[0]!.n);
    } finally {
      await c.end();
    }
  }

  before(async () => {
    local = await ownCluster(engine, { replicas: 2 });
    const monitor = engine === 'mariadb' ? await createMariadbMonitorUser(local) : undefined;
    monitorUser = monitor;
    const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role }]));
    cluster = createCluster({ databases });
    cluster.on('error', () => undefined);
    health = watchCluster(cluster, { checkIntervalMillis: 60_000, checkTimeoutMillis: 500, failoverTimeoutMillis: 10_000, ...(monitor ? { monitor } : {}) });
    health.on('error', () => undefined);
    await health.start();
    api = pgEngine ? pgApi(cluster) : mysqlApi(cluster);
    // The same servers with no health monitor.
    plain = createCluster({ databases });
    plain.on('error', () => undefined);
    plainApi = pgEngine ? pgApi(plain) : mysqlApi(plain);
    await api.pool(pgEngine
      ? 'CREATE TABLE fo_out (id serial PRIMARY KEY, marker text, s int)'
      : 'CREATE TABLE fo_out (id INT AUTO_INCREMENT PRIMARY KEY, marker VARCHAR(64), s INT)');
    store = createSessionStore({ cluster });
    await store.koa().set('before-kill', { n: 0 }, undefined); // creates its table
    await local.waitForAllReplicas();
  });

  after(async () => {
    await store?.close();
    await api?.end();
    await plainApi?.end();
    await health?.stop();
    await cluster?.end();
    await plain?.end();
    await local?.down();
  });

  // ---- item 3: a read cut mid-flight is retried once elsewhere --------------------------------

  const readPaths: [string, (a: Api, sql: string) => Promise<Row[]>][] = [
    ['pool.query', (a, sql) => a.pool(sql)],
    ['the callback form', (a, sql) => a.poolCallback(sql)],
    ['a free checked-out client', async (a, sql) => {
      const c = await a.checkout();
      try {
        return await c.query(sql);
      } finally {
        c.release();
      }
    }],
  ];
  for (const [monitored, get] of [['with a monitor', () => api], ['without a monitor', () => plainApi]] as const) {
    for (const [path, run] of readPaths) {
      test(`${engine}, ${monitored}: a read whose replica connection is killed mid-flight is retried elsewhere (${path})`, async () => {
        const marker = `cut_read_${monitored.length}_${path.length}`;
        const read = run(get(), sleepRead(marker));
        const killed = await killWhenRunning(marker, ['replica1', 'replica2']);
        const rows = await read;
        assert.equal(rows[0]!.marker, marker);
        assert.notEqual(portOf(rows), port(killed), `answered by another node than ${killed}`);
      });
    }
  }

  // ---- item 7: a write cut mid-flight ---------------------------------------------------------

  const outcomeUnknown = (e: unknown) => {
    assert.ok(isDbRouterError(e, 'WRITE_OUTCOME_UNKNOWN'), `WRITE_OUTCOME_UNKNOWN, got ${String(e)}`);
    assert.ok(e.cause instanceof Error, 'the driver\'s error is the cause');
    assert.ok(engine === 'postgres' ? (e.cause as { code?: string }).code === '57P01' : /ER_CONNECTION_KILLED|PROTOCOL_CONNECTION_LOST/.test(String((e.cause as { code?: string }).code)), String(e.cause));
    assert.match(e.message, /may or may not have committed/);
    return true;
  };

  test(`${engine}: a write whose primary connection is killed mid-flight → WRITE_OUTCOME_UNKNOWN, not re-run (pool.query and a checked-out client)`, async () => {
    const write = assert.rejects(api.pool(sleepInsert('cut_write_pool')), outcomeUnknown);
    assert.equal(await killWhenRunning('cut_write_pool', ['default']), 'default');
    await write;
    const c = await api.checkout();
    const write2 = assert.rejects(c.query(sleepInsert('cut_write_client')), outcomeUnknown);
    await killWhenRunning('cut_write_client', ['default']);
    await write2;
    c.release();
    // Here the server rolled both back (it cut them): nothing was re-run behind the caller's back.
    assert.equal(await countOn('default', 'cut_write_pool'), 0);
    assert.equal(await countOn('default', 'cut_write_client'), 0);
  });

  test(`${engine}: a statement cut inside a transaction → TRANSACTION_LOST; ROLLBACK after it fails the same way; nothing committed`, async () => {
    const c = await api.checkout();
    await c.query('BEGIN');
    await c.query(insert('tx_before_cut'));
    let lost: unknown;
    const cut = assert.rejects(c.query(sleepInsert('tx_cut')), (e) => {
      lost = e;
      return isDbRouterError(e, 'TRANSACTION_LOST') && e.cause instanceof Error;
    });
    await killWhenRunning('tx_cut', ['default']);
    await cut;
    await assert.rejects(c.query('ROLLBACK'), (e) => e === lost);
    c.release();
    assert.equal(await countOn('default', 'tx_before_cut'), 0);
    // The monitor took the primary out at the connection error; its check brings it back.
    await until(() => health.status().primaryAvailable, 5000, 'primary back in');
  });

  // ---- item 2: checked-out clients while the primary is replaced ------------------------------

  test(`${engine}: checked-out INSERT and BEGIN issued 200 ms after the primary is killed wait, and run on the promoted replica`, async () => {
    await until(() => health.status().primaryAvailable && health.status().readableReplicas.length === 2, 5000, 'all nodes in');
    const refusedBefore = errors('default');
    await local.kill('default');
    await delay(200); // the scenario: 200 ms after the kill, before the monitor has noticed
    assert.equal(health.status().primaryAvailable, true, 'the monitor has not noticed yet');
    // An autocommit INSERT on a checked-out client, then its port on the same (sticky) connection.
    const c1 = await api.checkout();
    const single = (async () => {
      await c1.query(insert('after_kill_single'));
      return portOf(await c1.query(`SELECT ${PORT} AS port`));
    })();
    // A transaction, on a client checked out with the callback form (Kysely's path on mysql2).
    const c2 = await api.checkoutCallback();
    const tx = (async () => {
      await c2.query('BEGIN');
      await c2.query(insert('after_kill_tx'));
      const p = portOf(await c2.query(`SELECT ${PORT} AS port`));
      await c2.query('COMMIT');
      return p;
    })();
    // The session store: a session saved, then read back, while the primary is being replaced.
    const session = store.koa().set('after-kill', { n: 1 }, undefined).then(() => store.koa().get('after-kill'));
    await until(() => errors('default') >= refusedBefore + 2, 5000, 'both refused by the dead primary');
    await local.promote('replica1');
    assert.deepEqual(await Promise.all([single, tx]), [port('replica1'), port('replica1')]);
    assert.equal((await session)?.n, 1);
    c1.release();
    c2.release();
    assert.equal(await countOn('replica1', 'after_kill_single'), 1);
    assert.equal(await countOn('replica1', 'after_kill_tx'), 1);
    const onNewPrimary = await direct(engine, local.databases.replica1!.url);
    assert.equal(Number((await onNewPrimary.query("SELECT count(*) AS n FROM dbrouter_sessions WHERE sid = 'after-kill'"))[0]!.n), 1, 'the session is on the new primary');
    await onNewPrimary.end();
    assert.equal(health.status().primary, 'replica1');
  });

  // ---- item 3: reads that need the primary wait for one ---------------------------------------

  test(`${engine}: a read-your-writes read and a strong read, issued while the primary is dead and the replica lags, wait and are served by the new primary, seeing the write`, async () => {
    await until(() => health.status().primaryAvailable && health.status().readableReplicas.includes('replica2'), 10_000, 'replica2 following replica1');
    await local.pause('replica2');
    let strong: Promise<Row[]> | undefined;
    const ryw = cluster.withToken(undefined, async () => {
      await api.pool(insert('ryw'));
      await received('replica1', 'replica2');
      await local.kill('replica1');
      await delay(200);
      strong = cluster.withToken(undefined, () => api.pool(`/* dbrouter:strong */ SELECT ${PORT} AS port, count(*) AS n FROM fo_out WHERE marker = 'ryw'`));
      return api.pool(`SELECT ${PORT} AS port, count(*) AS n FROM fo_out WHERE marker = 'ryw'`);
    });
    // The dead primary is found down by a read that meets it or by the monitor (a replica's stream
    // breaking makes it check the primary at once); the reads then wait without meeting it.
    await until(() => !health.status().primaryAvailable && strong !== undefined, 5000, 'the dead primary found down');
    let settled = false;
    void Promise.allSettled([ryw, strong]).then(() => { settled = true; });
    await delay(0);
    assert.equal(settled, false, 'both reads wait for a primary');
    assert.equal(await countOn('replica2', 'ryw'), 0, 'the replica lacks the write');
    // The promoted replica applies what it received first (MariaDB: the replay must run for that).
    await local.resume('replica2');
    await local.promote('replica2');
    for (const rows of [await ryw, await strong!]) {
      assert.equal(portOf(rows), port('replica2'));
      assert.equal(Number(rows[0]!.n), 1, 'sees the write');
    }
  });
}
