// Issue 9 items 4 and 5 on real replicating servers, shared by health-default-postgres.test.ts and
// health-default-mariadb.test.ts: no watchCluster anywhere unless said. A black-holed node (a TCP
// server that accepts and never answers) and an unresolvable host as replica and as primary; an
// unreachable URL-only replica at start; a replica killed under load; a script that never calls
// cluster.end() exits; cluster.end() stops the checks. Each file starts its own cluster.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, ownCluster } from '../harness/clusters.js';
import { createCluster, isDbRouterError, watchCluster, type Cluster, type ClusterConfig } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';

type EngineName = 'postgres' | 'mariadb';

/** Default bounds (docs/health-and-failover.md) and slack for a loaded 2-core machine. */
const CONNECT_BOUND = 5000;
const CHECK_BOUND = 1000;
const END_BOUND = 5000;
const SLACK = 2500;

interface Db {
  /** The port of the server that ran the statement (where it ran). */
  port(): Promise<number>;
  write(id: number): Promise<number>;
  end(): Promise<void>;
}

function dbOf(engine: EngineName, cluster: Cluster): Db {
  if (engine === 'postgres') {
    const pool = createPgPool(cluster);
    return {
      port: async () => Number((await pool.query('SELECT inet_server_port() AS port')).rows[0]!.port),
      write: async (id) => Number((await pool.query('INSERT INTO fail_avail (id, port) VALUES ($1, inet_server_port()) RETURNING port', [id])).rows[0]!.port),
      end: () => pool.end(),
    };
  }
  const pool = createMysqlPool(cluster);
  return {
    port: async () => Number(((await pool.query('SELECT @@port AS port'))[0] as { port: number }[])[0]!.port),
    write: async (id) => {
      await pool.query('INSERT INTO fail_avail (id, port) VALUES (?, @@port)', [id]);
      return Number(((await cluster.primary(() => pool.query('SELECT port FROM fail_avail WHERE id = ?', [id])))[0] as { port: number }[])[0]!.port);
    },
    end: () => pool.end(),
  };
}

async function timed<T>(p: Promise<T>): Promise<{ value: T; millis: number }> {
  const t0 = performance.now();
  const value = await p;
  return { value, millis: performance.now() - t0 };
}

async function pollUntil(what: string, cond: () => boolean | Promise<boolean>, timeoutMillis: number): Promise<void> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > timeoutMillis) throw new Error(`not within ${timeoutMillis} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const scheme = (engine: EngineName) => (engine === 'postgres' ? 'postgres' : 'mysql');

export async function healthDefaultScenarios(engine: EngineName): Promise<void> {
  describe(`safe by default when nodes fail (${engine})`, { skip: await engineSkip(engine) }, () => {
    let local: LocalCluster;
    let hole: net.Server;
    let holePort = 0;
    const held = new Set<net.Socket>();
    const ports: Record<string, number> = {};
    const url = (alias: string) => local.databases[alias]!.url;
    const withHost = (alias: string, host: string, port?: number) => {
      const u = new URL(url(alias));
      u.hostname = host;
      if (port !== undefined) u.port = String(port);
      return u.toString();
    };

    before(async () => {
      local = await ownCluster(engine);
      for (const a of ['default', 'replica1', 'replica2']) ports[a] = Number(new URL(url(a)).port);
      hole = net.createServer((s) => held.add(s));
      await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
      holePort = (hole.address() as net.AddressInfo).port;
      const setup = createCluster({ databases: { default: url('default') }, health: false });
      const db = engine === 'postgres' ? createPgPool(setup) : createMysqlPool(setup);
      await (db as { query(sql: string): Promise<unknown> }).query('CREATE TABLE fail_avail (id int PRIMARY KEY, port int)');
      await db.end();
      await local.waitForAllReplicas();
    });
    after(async () => {
      for (const s of held) s.destroy();
      hole.close();
      await local.down();
    });

    // A node that cannot be reached, as a replica: nothing waits past its bound, no read fails.
    for (const kind of ['black hole', 'unresolvable host'] as const) {
      for (const known of [true, false]) {
        test(`a ${kind} replica${known ? '' : ' of unknown role (URL only)'}: ready() is bounded, every read succeeds on the up replica, writes go on, end() is bounded`, async () => {
          const bad = kind === 'black hole' ? withHost('replica2', '127.0.0.1', holePort) : withHost('replica2', 'nonexistent.invalid');
          const config: ClusterConfig = {
            databases: known
              ? { default: { url: url('default'), role: 'primary' }, replica1: { url: url('replica1'), role: 'replica' }, bad: { url: bad, role: 'replica' } }
              : { default: url('default'), replica1: url('replica1'), bad },
            consistency: 'eventual',
          };
          const cluster = createCluster(config);
          const db = dbOf(engine, cluster);
          const ready = await timed(cluster.ready());
          assert.ok(ready.millis < CHECK_BOUND + SLACK, `ready() took ${Math.round(ready.millis)} ms (bound ${CHECK_BOUND} ms per node)`);
          if (!known) assert.equal(cluster.nodeState('bad'), 'down', 'a node that did not say its role is down');
          const seen = new Set<number>();
          let slowest = 0;
          for (let i = 0; i < 30; i++) {
            const r = await timed(db.port());
            slowest = Math.max(slowest, r.millis);
            seen.add(r.value);
          }
          assert.deepEqual([...seen], [ports.replica1], 'every read ran on the up replica');
          assert.ok(slowest < CONNECT_BOUND + SLACK, `slowest read ${Math.round(slowest)} ms (bound: connect ${CONNECT_BOUND} ms, then retried elsewhere)`);
          const id = Math.floor(Math.random() * 1e9);
          assert.equal(await db.write(id), ports.default, 'the write ran on the primary');
          await pollUntil('the monitor reports the node down', () => cluster.status()?.nodes.find((n) => n.alias === 'bad')?.state === 'down', CHECK_BOUND * 3 + SLACK);
          const ended = await timed(Promise.all([db.end(), cluster.end()]));
          assert.ok(ended.millis < END_BOUND + SLACK, `end() took ${Math.round(ended.millis)} ms`);
        });
      }
    }

    test('a black-holed primary: watchCluster().start() is bounded, writes fail PRIMARY_UNAVAILABLE after failoverTimeoutMillis, reads go on, end() is bounded', async () => {
      const cluster = createCluster({
        databases: { default: { url: withHost('default', '127.0.0.1', holePort), role: 'primary' }, replica1: { url: url('replica1'), role: 'replica' } },
        consistency: 'eventual',
        health: { failoverTimeoutMillis: 2000 },
      });
      const db = dbOf(engine, cluster);
      const start = await timed(watchCluster(cluster).start());
      assert.ok(start.millis < CHECK_BOUND + SLACK, `start() took ${Math.round(start.millis)} ms`);
      const t0 = performance.now();
      const write = db.write(1).then(() => 'wrote', (e: unknown) => e);
      for (let i = 0; i < 10; i++) assert.equal(await db.port(), ports.replica1, 'reads go on from the replica while the write waits');
      const err = await write;
      const waited = performance.now() - t0;
      assert.ok(isDbRouterError(err, 'PRIMARY_UNAVAILABLE'), `the write fails typed: ${String(err)}`);
      assert.ok(waited >= 1900 && waited < 2000 + SLACK, `the write waited ${Math.round(waited)} ms (failoverTimeoutMillis 2000)`);
      const ended = await timed(Promise.all([db.end(), cluster.end()]));
      assert.ok(ended.millis < END_BOUND + SLACK, `end() took ${Math.round(ended.millis)} ms`);
    });

    test('an unreachable URL-only replica at start: the app starts, reads and writes succeed on the others, and it joins once started', async () => {
      await local.kill('replica2');
      const cluster = createCluster({ databases: { default: url('default'), replica1: url('replica1'), replica2: url('replica2') }, consistency: 'eventual', health: { checkIntervalMillis: 200 } });
      const db = dbOf(engine, cluster);
      try {
        assert.equal(await db.write(2), ports.default);
        const seen = new Set<number>();
        for (let i = 0; i < 20; i++) seen.add(await db.port());
        assert.deepEqual([...seen], [ports.replica1]);
        assert.equal(cluster.describe().find((d) => d.alias === 'replica2')!.role, undefined);
        await local.start('replica2');
        await pollUntil('replica2 joins the reads', async () => (await db.port()) === ports.replica2, 20_000);
        assert.equal(cluster.describe().find((d) => d.alias === 'replica2')!.role, 'replica', 'its role was learned by the checks');
      } finally {
        await db.end();
        await cluster.end();
      }
    });

    test('a replica killed under load, no watchCluster: no read fails, and after detection none goes to it', async () => {
      const cluster = createCluster({
        databases: { default: { url: url('default'), role: 'primary' }, replica1: { url: url('replica1'), role: 'replica' }, replica2: { url: url('replica2'), role: 'replica' } },
        consistency: 'eventual',
      });
      const db = dbOf(engine, cluster);
      let running = true;
      let ok = 0;
      const failures: unknown[] = [];
      const after: number[] = [];
      let detected = false;
      cluster.on('nodeState', (alias: string, state: string) => {
        if (alias === 'replica1' && state === 'down') detected = true;
      });
      const users = Array.from({ length: 8 }, async () => {
        while (running) {
          try {
            // A read issued after detection (one already in flight may still finish on the dying node).
            const issuedAfter = detected;
            const port = await db.port();
            ok++;
            if (issuedAfter) after.push(port);
          } catch (e) {
            failures.push(e);
          }
        }
      });
      try {
        await pollUntil('reads flow', () => ok > 50, 10_000);
        await local.kill('replica1');
        await pollUntil('replica1 detected down', () => detected, CHECK_BOUND * 3 + SLACK);
        const mark = ok;
        await pollUntil('reads after detection', () => ok > mark + 200, 20_000);
      } finally {
        running = false;
        await Promise.all(users);
        await db.end();
        await cluster.end();
        await local.start('replica1');
      }
      process.stdout.write(`# ${engine}: ${ok} reads, ${failures.length} failed; ${after.length} after detection\n`);
      assert.deepEqual(failures.map(String), [], 'no read failed');
      assert.ok(!after.includes(ports.replica1!), 'no read went to the dead replica after detection');
    });

    test('a script that never calls cluster.end() exits; cluster.end() stops the checks', async () => {
      const child = fileURLToPath(new URL('./health-default-child.ts', import.meta.url));
      const t0 = performance.now();
      const code = await new Promise<number | null>((resolve, reject) => {
        const p = spawn(process.execPath, ['--import', 'tsx', child, scheme(engine), url('default'), url('replica1')], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        const timer = setTimeout(() => {
          p.kill('SIGKILL');
          reject(new Error(`the script did not exit within 30 s (it printed: ${out})`));
        }, 30_000);
        p.on('exit', (c) => {
          clearTimeout(timer);
          assert.match(out, /checked: true/, 'the checks ran in the script');
          resolve(c);
        });
      });
      assert.equal(code, 0);
      process.stdout.write(`# ${engine}: the script exited in ${Math.round(performance.now() - t0)} ms without cluster.end()\n`);

      if (engine === 'postgres') {
        const cluster = createCluster({ databases: { default: { url: url('default'), role: 'primary' }, replica1: { url: url('replica1'), role: 'replica' } } });
        await cluster.ready();
        const admin = createCluster({ databases: { default: url('default') }, health: false });
        const a = createPgPool(admin);
        const monitors = async () => Number((await a.query("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'dbrouter-monitor'")).rows[0]!.n);
        await pollUntil('the monitor is connected', async () => (await monitors()) >= 1, 5000);
        await cluster.end();
        await pollUntil('no monitoring connection after cluster.end()', async () => (await monitors()) === 0, 5000);
        await a.end();
      }
    });
  });
}
