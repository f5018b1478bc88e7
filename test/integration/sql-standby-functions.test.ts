// Issue 9 item 10, on a real PostgreSQL primary and hot standby: each function a standby refuses
// really fails on the replica, and a routed pool really runs it on the primary (asked of the server:
// inet_server_port()). A NUL byte in a statement is an ordinary error (08P01 at ERROR level): the
// node is not suspected and the read is not run a second time elsewhere.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createCluster, watchCluster, type Cluster, type ClusterHealth } from '../../src/index.js';
import { createPgPool, type RoutedPgPool } from '../../src/engines/postgres/index.js';
import type { LocalCluster } from '../../src/local/index.js';
import { classify } from '../../src/sql/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';

const STANDBY_REFUSES = [
  'SELECT pg_current_wal_lsn()',
  'SELECT pg_current_wal_insert_lsn()',
  'SELECT pg_current_wal_flush_lsn()',
  "SELECT pg_walfile_name('0/16B3740')",
  "SELECT pg_walfile_name_offset('0/16B3740')",
  'SELECT txid_current()',
  'SELECT pg_current_xact_id()',
  'SELECT pg_switch_wal()',
  "SELECT pg_create_restore_point('dbrouter_test')",
  "SELECT nextval('sqlsf_seq')",
];

describe('functions a PostgreSQL standby refuses go to the primary', { skip: await engineSkip('postgres') }, () => {
  let local: LocalCluster;
  let replica: pg.Client;
  let cluster: Cluster;
  let pool: RoutedPgPool;
  let health: ClusterHealth;
  let primaryPort: number;

  before(async () => {
    local = await sharedCluster('postgres');
    const admin = new pg.Client(local.databases.default!.url);
    await admin.connect();
    await admin.query('DROP SEQUENCE IF EXISTS sqlsf_seq; CREATE SEQUENCE sqlsf_seq');
    primaryPort = Number((await admin.query<{ port: number }>('SELECT inet_server_port() AS port')).rows[0]!.port);
    await admin.end();
    await local.waitForAllReplicas();
    replica = new pg.Client(local.databases.replica1!.url);
    await replica.connect();
    const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role }]));
    cluster = createCluster({ databases, consistency: 'eventual', debug: true });
    pool = createPgPool(cluster);
    // With a monitor, a connection error marks the node suspect and a read is retried elsewhere:
    // exactly what must not happen to an ordinary error. Checks far apart: only the statement's own
    // error could mark a node here.
    health = watchCluster(cluster, { checkIntervalMillis: 60_000 });
    await health.start();
  });
  after(async () => {
    await health?.stop();
    await replica?.end();
    await pool?.end();
  });

  for (const sql of STANDBY_REFUSES) {
    test(sql, async () => {
      assert.equal(classify(sql, 'postgres').target, 'primary');
      await assert.rejects(replica.query(sql), (e: { code?: string; message?: string }) => {
        // 55000 "recovery is in progress" (WAL control, xid assignment) or 25006 (read-only transaction).
        assert.ok(e.code === '55000' || e.code === '25006', `${e.code}: ${e.message}`);
        return true;
      });
      const misroutes: unknown[] = [];
      cluster.on('misroute', (m) => misroutes.push(m));
      const r = await pool.query<{ port: number }>(`${sql.replace(/^SELECT /, 'SELECT inet_server_port() AS port, ')}`);
      cluster.removeAllListeners('misroute');
      assert.equal(Number(r.rows[0]!.port), primaryPort, 'ran on a replica');
      assert.deepEqual(misroutes, [], 'reached the primary only after a replica refused it');
    });
  }

  test('a NUL byte is an ordinary error: no suspect node, no second run', async () => {
    const before = cluster.queries.length;
    const states: unknown[] = [];
    cluster.on('nodeState', (alias, state) => states.push([alias, state]));
    await assert.rejects(pool.query('SELECT 1 AS "a\0b"'), (e: { code?: string; severity?: string }) => {
      assert.equal(e.code, '08P01');
      assert.equal(e.severity, 'ERROR');
      return true;
    });
    cluster.removeAllListeners('nodeState');
    assert.equal(cluster.queries.length - before, 1, 'the statement was routed more than once');
    assert.deepEqual(states, []);
    assert.ok(cluster.describe().every((d) => d.state === 'up'), JSON.stringify(cluster.describe()));
    assert.ok(health.status().nodes.every((n) => !n.suspect && n.consecutiveFailures === 0), JSON.stringify(health.status().nodes));
    // The same pool goes on answering.
    assert.equal((await pool.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n, 1);
  });
});
