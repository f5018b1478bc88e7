// MariaDB GTID clusters: replication as the non-admin application user, read_only on replicas,
// lag, failover, teardown, and the CLI's --json output used with mysql2.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import { isDbRouterError } from '../../src/errors.js';
import type { LocalCluster } from '../../src/local/index.js';
import { isAlive } from '../../src/local/processes.js';
import { engineSkip, ownCluster, sharedCluster } from '../harness/clusters.js';
import { stateOf } from './postgres-cluster-suite.js';

const skip = await engineSkip('mariadb');

async function withConnection<T>(url: string, use: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const connection = await mysql.createConnection(url);
  connection.on('error', () => {});
  try {
    return await use(connection);
  } finally {
    await connection.end();
  }
}

function exec(url: string, sql: string): Promise<void> {
  return withConnection(url, async (c) => {
    await c.query(sql);
  });
}

function ids(url: string, table: string): Promise<number[]> {
  return withConnection(url, async (c) => {
    const [rows] = await c.query<mysql.RowDataPacket[]>(`SELECT id FROM ${table} ORDER BY id`);
    return rows.map((r) => Number(r.id));
  });
}

function url(cluster: LocalCluster, alias: string): string {
  const db = cluster.databases[alias];
  assert.ok(db, `no database ${alias}`);
  return db.url;
}

describe('mariadb cluster', { skip }, () => {
  describe('replication on the shared cluster', () => {
    let cluster: LocalCluster;
    const table = `t_${process.pid}_${Date.now()}`;

    before(async () => {
      cluster = await sharedCluster('mariadb');
      await exec(url(cluster, 'default'), `CREATE TABLE ${table} (id INT PRIMARY KEY)`);
    });
    after(async () => {
      await cluster.resume('replica1').catch(() => {});
      await cluster.setDelay('replica1', 0).catch(() => {});
      await exec(url(cluster, 'default'), `DROP TABLE IF EXISTS ${table}`);
    });

    test('the application user is not an admin', async () => {
      const grants = await withConnection(url(cluster, 'default'), async (c) => {
        const [rows] = await c.query<mysql.RowDataPacket[]>('SHOW GRANTS');
        return rows.map((r) => String(Object.values(r)[0])).join('\n');
      });
      assert.doesNotMatch(grants, /SUPER|READ ONLY ADMIN|ALL PRIVILEGES ON \*\.\*/);
    });

    test('a row written on the primary is visible on every replica', async () => {
      await exec(url(cluster, 'default'), `INSERT INTO ${table} VALUES (1)`);
      await cluster.waitForAllReplicas();
      assert.ok(cluster.replicaAliases.length >= 2);
      for (const alias of cluster.replicaAliases) assert.deepEqual(await ids(url(cluster, alias), table), [1], alias);
    });

    test('the application user cannot write on a replica (errno 1290, read_only)', async () => {
      await assert.rejects(exec(url(cluster, 'replica1'), `INSERT INTO ${table} VALUES (99)`), { errno: 1290 });
    });

    test('with replay paused a newer row is not visible on that replica, and is after resume', async () => {
      await cluster.pause('replica1');
      await exec(url(cluster, 'default'), `INSERT INTO ${table} VALUES (2)`);
      const position = await cluster.primaryPosition();
      await cluster.waitForReplay('replica2', position);
      assert.deepEqual(await ids(url(cluster, 'replica2'), table), [1, 2]);
      assert.deepEqual(await ids(url(cluster, 'replica1'), table), [1]);
      const status = (await cluster.status()).find((n) => n.alias === 'replica1');
      assert.equal(status?.paused, true);
      assert.equal(status?.lagMillis, null, 'lag is unknown, not zero, while the SQL thread is stopped');
      await cluster.resume('replica1');
      await cluster.waitForReplay('replica1', position);
      assert.deepEqual(await ids(url(cluster, 'replica1'), table), [1, 2]);
    });

    test('a replica that never catches up times out with the tail of its log', async () => {
      await cluster.pause('replica1');
      await exec(url(cluster, 'default'), `INSERT INTO ${table} VALUES (3)`);
      await assert.rejects(cluster.waitForReplay('replica1', undefined, 300), (e: unknown) => {
        assert.ok(isDbRouterError(e, 'REPLICA_CATCH_UP_TIMEOUT'));
        assert.match(e.message, /replica1 did not replay 0-\d+-\d+ within 300 ms \(replay is paused/);
        assert.match(e.message, /Last lines of .*replica1\.log:\n.*Slave SQL thread exiting/s);
        return true;
      });
      await cluster.resume('replica1');
      await cluster.waitForReplay('replica1');
    });

    test('a fixed apply delay holds changes back until it is removed', async () => {
      await cluster.setDelay('replica1', 5000);
      await exec(url(cluster, 'default'), `INSERT INTO ${table} VALUES (4)`);
      await assert.rejects(cluster.waitForReplay('replica1', undefined, 500), { code: 'REPLICA_CATCH_UP_TIMEOUT' });
      assert.ok(!(await ids(url(cluster, 'replica1'), table)).includes(4));
      await cluster.setDelay('replica1', 0);
      await cluster.waitForReplay('replica1');
      assert.ok((await ids(url(cluster, 'replica1'), table)).includes(4));
    });
  });

  describe('failover on a cluster of its own', () => {
    let cluster: LocalCluster;
    before(async () => {
      cluster = await ownCluster('mariadb', { replicas: 2 });
    });
    after(async () => {
      await cluster?.down();
    });

    test('kill + promote: the replica accepts writes and the other replica replicates from it', async () => {
      await exec(url(cluster, 'default'), 'CREATE TABLE fo (id INT PRIMARY KEY)');
      await exec(url(cluster, 'default'), 'INSERT INTO fo VALUES (1)');
      await cluster.waitForAllReplicas();
      await cluster.kill('default');
      assert.equal((await cluster.status()).find((n) => n.alias === 'default')?.up, false);
      await assert.rejects(exec(url(cluster, 'default'), 'SELECT 1'), { code: 'ECONNREFUSED' });

      await cluster.promote('replica1');
      assert.equal(cluster.primaryAlias, 'replica1');
      await exec(url(cluster, 'replica1'), 'INSERT INTO fo VALUES (2)');
      await cluster.waitForReplay('replica2');
      assert.deepEqual(await ids(url(cluster, 'replica2'), 'fo'), [1, 2]);
      await assert.rejects(exec(url(cluster, 'replica2'), 'INSERT INTO fo VALUES (98)'), { errno: 1290 });
    });

    test('the old primary rejoins as a replica with start', async () => {
      await cluster.start('default');
      assert.equal(cluster.databases.default?.role, 'replica');
      await exec(url(cluster, 'replica1'), 'INSERT INTO fo VALUES (3)');
      await cluster.waitForAllReplicas();
      assert.deepEqual(await ids(url(cluster, 'default'), 'fo'), [1, 2, 3]);
      await assert.rejects(exec(url(cluster, 'default'), 'INSERT INTO fo VALUES (97)'), { errno: 1290 });
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

  test('CLI: up --json prints the databases and mysql2 connects with the printed URLs', async () => {
    const dir = path.join(tmpdir(), `dbrouter-test-cli-mariadb-${process.pid}`);
    const cli = (args: string[]): string =>
      execFileSync(process.execPath, ['--import', 'tsx', 'test/harness/run-cli.ts', 'cluster', ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    const printed = JSON.parse(cli(['up', '--engine', 'mariadb', '--replicas', '1', '--dir', dir, '--json'])) as {
      engine: string;
      databases: Record<string, { url: string; role: string }>;
    };
    try {
      assert.equal(printed.engine, 'mariadb');
      assert.deepEqual(Object.keys(printed.databases), ['default', 'replica1']);
      for (const [alias, db] of Object.entries(printed.databases)) {
        assert.match(db.url, /^mysql:\/\/app:app@127\.0\.0\.1:\d+\/app$/);
        const readOnly = await withConnection(db.url, async (c) => {
          const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT @@read_only AS ro');
          return Number(rows[0]?.ro);
        });
        assert.equal(readOnly, alias === 'default' ? 0 : 1, alias);
      }
    } finally {
      cli(['down', '--dir', dir]);
    }
    assert.equal(existsSync(dir), false);
  });
});
