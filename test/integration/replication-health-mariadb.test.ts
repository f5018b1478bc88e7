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
import { createCluster, createMysqlPool, watchCluster, isDbRouterError } from '../../src/index.js';
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

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMillis = 10_000): Promise<T> {
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
      const st = await until('replica1 diverged', async () => {
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
      const kinds = await until('both problems', async () => {
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
});
