// Issue 9 items 1, 6, 11 on a real MariaDB cluster of this file's own (it breaks replication,
// kills and promotes nodes): diverged and stopped replicas leave the reads, lag from the GTID gap
// with the application's own user, promote keeps the received relay log, rejoin and re-clone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, ownCluster } from '../harness/clusters.js';
import { createCluster, watchCluster } from '../../src/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import { checkCluster } from '../../src/cli/status.js';
import { HealthMonitor } from '../../src/health/monitor.js';
import { mariadbProber } from '../../src/engines/mysql/probe.js';
import { connectionOf, createMariadbMonitorUser } from './health-scenarios.js';

const skip = await engineSkip('mariadb');

/** Root over the node's unix socket (the local cluster's admin). */
async function root(local: LocalCluster, alias: string): Promise<mysql.Connection> {
  const state = JSON.parse(readFileSync(path.join(local.dir, 'state.json'), 'utf8')) as { socketDir: string };
  return mysql.createConnection({ socketPath: path.join(state.socketDir, `${alias}.sock`), user: userInfo().uid === 0 ? 'root' : userInfo().username });
}

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMillis = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMillis} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const portOf = (url: string) => Number(new URL(url).port);

describe('replication health on a real mariadb cluster', { skip }, () => {
  let local: LocalCluster;
  let monitorUser: { user: string; password: string };
  before(async () => {
    local = await ownCluster('mariadb', { replicas: 2 });
    monitorUser = await createMariadbMonitorUser(local);
    const c = await mysql.createConnection(local.databases.default!.url);
    await c.query('CREATE TABLE rh_items (id VARCHAR(64) PRIMARY KEY, v VARCHAR(64))');
    await c.end();
    await local.waitForAllReplicas();
  });
  after(async () => {
    await local?.down();
  });

  test('issue 9.1: a diverged replica (gtid_slave_pos beyond the primary, IO error 1236) is out of reads; read-your-writes never lands there', async () => {
    const r1 = await root(local, 'replica1');
    try {
      await r1.query('STOP SLAVE');
      await r1.query("SET GLOBAL gtid_slave_pos = '0-1-100000'");
      await r1.query('START SLAVE');
      await until('IO thread error 1236', async () => {
        const [rows] = await r1.query<mysql.RowDataPacket[]>('SHOW SLAVE STATUS');
        return Number(rows[0]?.Last_IO_Errno) === 1236;
      });
    } finally {
      await r1.end();
    }
    // The application's own user (no SLAVE MONITOR): divergence shows in the positions alone.
    const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role }]));
    const cluster = createCluster({ databases, consistency: { secret: 'x'.repeat(32) } });
    const health = watchCluster(cluster, { checkIntervalMillis: 100, checkTimeoutMillis: 1000, maxReplicationLagMillis: 5000 });
    const pool = createMysqlPool(cluster);
    try {
      await health.start();
      const st = await until('replica1 diverged', () => {
        const s = health.monitor!.status();
        return s.nodes.find((n) => n.alias === 'replica1')?.problems.some((p) => p.kind === 'diverged') ? s : undefined;
      });
      assert.deepEqual(st.readableReplicas, ['replica2']);
      assert.equal(st.nodes.find((n) => n.alias === 'replica1')!.lagMillis, 0, 'by position alone it looked caught up: the old bug');
      // Pause replica2 so that a read-your-writes read has a reason to look elsewhere than a replica.
      await local.pause('replica2');
      const r1Port = portOf(local.databases.replica1!.url);
      let onReplica1 = 0;
      for (let i = 0; i < 20; i++) {
        const id = `d${i}-${Date.now()}`;
        const row = await cluster.withToken(undefined, async () => {
          await pool.query('INSERT INTO rh_items VALUES (?, ?)', [id, 'mine']);
          const [rows] = await pool.query('SELECT v, @@port AS port FROM rh_items WHERE id = ?', [id]);
          return (rows as Array<{ v: string; port: number }>)[0];
        });
        assert.equal(row?.v, 'mine', `read ${i} saw its own write`);
        if (Number(row?.port) === r1Port) onReplica1++;
      }
      assert.equal(onReplica1, 0, 'no read served by the diverged replica');
      // And plain reads (no write of their own) never go there either.
      for (let i = 0; i < 10; i++) {
        const [rows] = await pool.query('SELECT @@port AS port');
        assert.notEqual(Number((rows as Array<{ port: number }>)[0]?.port), r1Port);
      }
      await local.resume('replica2');
    } finally {
      await pool.end();
      await cluster.end();
    }
    // With a monitor user the stopped IO thread is named too: replication-stopped as well as diverged.
    const connections = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, connectionOf(d.url)]));
    const monitor = new HealthMonitor({
      nodes: Object.entries(local.databases).map(([alias, d]) => ({ alias, configuredRole: d.role })),
      prober: mariadbProber({ connections, monitor: monitorUser }),
      checkIntervalMillis: 100,
    });
    try {
      await monitor.start();
      const kinds = await until('both problems', () => {
        const k = monitor.status().nodes.find((n) => n.alias === 'replica1')!.problems.map((p) => p.kind).sort();
        return k.length === 2 ? k : undefined;
      });
      assert.deepEqual(kinds, ['diverged', 'replication-stopped']);
      assert.match(monitor.status().nodes.find((n) => n.alias === 'replica1')!.problems.find((p) => p.kind === 'replication-stopped')!.message, /error 1236/);
      assert.deepEqual(monitor.readableReplicas(), ['replica2']);
    } finally {
      await monitor.stop();
    }
    // Put replica1 back on the primary's history for the next tests.
    const fix = await root(local, 'replica1');
    try {
      await fix.query('STOP SLAVE');
      await fix.query(`SET GLOBAL gtid_slave_pos = '${await local.primaryPosition()}'`);
      await fix.query('START SLAVE');
    } finally {
      await fix.end();
    }
    await local.waitForAllReplicas();
  });
  test('issue 9.6: the application user sees a paused replica lagging by its GTID gap; caught up it is 0 and healthy', async () => {
    const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role }]));
    await local.pause('replica2');
    try {
      const c = await mysql.createConnection(local.databases.default!.url);
      await c.query("INSERT INTO rh_items VALUES ('lag-1', 'x')");
      await c.end();
      const started = Date.now();
      const report = await checkCluster({ databases }, { maxLagMillis: 1000, timeoutMillis: 2000 });
      const r2 = report.nodes.find((n) => n.alias === 'replica2')!;
      assert.equal(report.healthy, false, JSON.stringify(report));
      assert.equal(r2.state, 'lagging');
      assert.ok(r2.lagMillis !== undefined && r2.lagMillis >= 1000, `lag ${r2.lagMillis} ms from the GTID gap`);
      assert.ok((r2.lagPosition ?? 0) >= 1, 'at least one transaction behind');
      assert.ok(Date.now() - started < 5000, 'status watched no longer than its bound');
      assert.equal(report.nodes.find((n) => n.alias === 'replica1')!.state, 'up');
    } finally {
      await local.resume('replica2');
    }
    await local.waitForAllReplicas();
    const report = await checkCluster({ databases }, { maxLagMillis: 1000, timeoutMillis: 2000 });
    assert.equal(report.healthy, true, JSON.stringify(report.degraded));
    for (const n of report.nodes) assert.equal(n.lagMillis, 0, `${n.alias} has everything`);
  });

  test('issue 9.6: a wrong password is reported as a wrong password (status and role discovery)', async () => {
    const bad = local.databases.replica1!.url.replace('app:app@', 'app:Wr0ngPass@');
    const report = await checkCluster({ databases: { default: { url: local.databases.default!.url, role: 'primary' }, replica1: { url: bad, role: 'replica' } } }, { maxLagMillis: 5000, timeoutMillis: 2000 });
    const r1 = report.nodes.find((n) => n.alias === 'replica1')!;
    assert.equal(r1.state, 'down');
    assert.match(r1.error ?? '', /wrong user name or password \(MySQL 1045\)/);
    assert.doesNotMatch(JSON.stringify(report), /Wr0ngPass/, 'never the password');
    const cluster = createCluster({ databases: { default: local.databases.default!.url, replica1: bad } });
    try {
      await assert.rejects(cluster.ready(), (e: Error) => /wrong user name or password/.test(e.message) && !/Start it/.test(e.message));
    } finally {
      await cluster.end();
    }
  });

  test('issue 9.11: promote applies the relay log received but not applied; the diverged former primary is re-cloned; a paused and killed replica rejoins', async () => {
    const write = async (ids: string[]) => {
      const c = await mysql.createConnection(local.databases.default!.url);
      for (const id of ids) await c.query('INSERT INTO rh_items VALUES (?, ?)', [id, 'p']);
      await c.end();
    };
    // replica1 receives A1..A5 but applies none (SQL thread paused); replica2 applies them.
    await local.pause('replica1');
    await write(['A1', 'A2', 'A3', 'A4', 'A5']);
    const afterA = await local.primaryPosition();
    await local.waitForReplay('replica2', afterA);
    const r1 = await root(local, 'replica1');
    await until('replica1 received A5', async () => {
      const [rows] = await r1.query<mysql.RowDataPacket[]>('SHOW SLAVE STATUS');
      return String(rows[0]?.Gtid_IO_Pos) === afterA;
    });
    // Then both replicas stop receiving: B1..B3 exist only on the old primary.
    await r1.query('STOP SLAVE IO_THREAD');
    await r1.end();
    const r2 = await root(local, 'replica2');
    await r2.query('STOP SLAVE IO_THREAD');
    await r2.end();
    await write(['B1', 'B2', 'B3']);
    await local.kill('default');
    await local.promote('replica1');
    const ids = async (alias: string) => {
      const c = await mysql.createConnection(local.databases[alias]!.url);
      try {
        const [rows] = await c.query<mysql.RowDataPacket[]>("SELECT id FROM rh_items WHERE id LIKE 'A%' OR id LIKE 'B%' ORDER BY id");
        return rows.map((r) => String(r.id));
      } finally {
        await c.end();
      }
    };
    assert.deepEqual(await ids('replica1'), ['A1', 'A2', 'A3', 'A4', 'A5'], 'the received relay log was applied before the promotion');
    // The configuration still names default as the primary: status notes both sides.
    const databases = Object.fromEntries(['default', 'replica1', 'replica2'].map((a) => [a, { url: local.databases[a]!.url, role: a === 'default' ? 'primary' as const : 'replica' as const }]));
    const report = await checkCluster({ databases }, { maxLagMillis: 5000, timeoutMillis: 1000 });
    assert.match(report.nodes.find((n) => n.alias === 'replica1')!.problems.join('\n'), /configured as a replica but reports being the primary/);
    // The former primary holds B1..B3, which the new primary lacks: it is rebuilt from it.
    const t0 = Date.now();
    await local.start('default');
    const rejoinMillis = Date.now() - t0;
    await local.waitForReplay('default', await local.primaryPosition());
    assert.deepEqual(await ids('default'), ['A1', 'A2', 'A3', 'A4', 'A5'], 'B1..B3 are gone: the node now holds the new primary\'s history');
    console.log(`# diverged former primary re-cloned and replicating in ${rejoinMillis} ms`);
    const w = await mysql.createConnection(local.databases.replica1!.url);
    await w.query("INSERT INTO rh_items VALUES ('C1', 'p')");
    await w.end();
    await local.waitForReplay('default', await local.primaryPosition());
    // A replica paused and then killed rejoins on start.
    await local.pause('replica2');
    await local.kill('replica2');
    await local.start('replica2');
    await local.waitForReplay('replica2', await local.primaryPosition());
    assert.deepEqual((await ids('replica2')).length, 5);
  });
});
