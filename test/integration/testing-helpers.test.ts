// dbrouter/testing on real servers: assertStatements says where statements ran (and fails, listing
// them, when they ran elsewhere); testClusterConfig turns one PostgreSQL database into a primary and a
// read-only "replica" that refuses writes as a standby would; withReplicaLag gives a local cluster
// real apply lag for one block and removes it after.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createCluster } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { assertStatements, recordStatements, testClusterConfig, withReplicaLag } from '../../src/testing/index.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';
import { primaryConnection, routedDb, type Db } from './consistency-helpers.js';

describe('dbrouter/testing on postgres', { skip: await engineSkip('postgres') }, () => {
  let local: LocalCluster;
  let db: Db;
  before(async () => {
    local = await sharedCluster('postgres');
    db = routedDb(local, { consistency: 'eventual' });
    await db.q('DROP TABLE IF EXISTS th_items');
    await db.q('CREATE TABLE th_items (id int PRIMARY KEY)');
    await db.q('CREATE OR REPLACE FUNCTION th_sneaky_write() RETURNS int LANGUAGE sql AS \'INSERT INTO th_items VALUES (99) RETURNING id\'');
    await local.waitForAllReplicas();
  });
  after(() => db.end());

  test('assertStatements passes where the servers say the statements ran, and fails listing them otherwise', async () => {
    const rows = await assertStatements(db.cluster, () => db.q(`SELECT ${db.PORT}`), { count: 1, role: 'replica', reason: 'select' });
    assert.match(db.aliasOf(rows), /^replica/);
    await assertStatements(db.cluster, () => db.q('INSERT INTO th_items VALUES (1)'), { alias: 'default' });
    await assert.rejects(
      assertStatements(db.cluster, () => db.q('SELECT 1'), { role: 'primary' }),
      (e: unknown) => e instanceof assert.AssertionError && /role primary; 1 statement\(s\) ran:\n {2}1\. replica\d \(replica, select\) SELECT 1/.test(e.message),
    );
    const { statements } = await recordStatements(db.cluster, async () => { await db.q('SELECT 2'); await db.q('DELETE FROM th_items'); });
    assert.deepEqual(statements.map((s) => s.role), ['replica', 'primary']);
  });

  test('testClusterConfig: one database as primary and a read-only replica that refuses writes', async () => {
    const cluster = createCluster({ ...testClusterConfig(local.databases.default!.url), consistency: 'eventual' });
    const pool = createPgPool(cluster);
    try {
      const r = await assertStatements(cluster, () => pool.query("SELECT current_setting('default_transaction_read_only') AS ro"), { alias: 'replica1' });
      assert.equal(r.rows[0]!.ro, 'on', 'the replica alias is a read-only session');
      const w = await assertStatements(cluster, () => pool.query("SELECT current_setting('default_transaction_read_only') AS ro FROM (SELECT 1) s FOR UPDATE"), { alias: 'default' });
      assert.equal(w.rows[0]!.ro, 'off', 'the primary alias writes');
      // A write hidden in a function the classifier cannot see: refused by the read-only "replica",
      // re-run on the primary, and counted — as on a real standby.
      const misroutes: unknown[] = [];
      cluster.on('misroute', (e) => misroutes.push(e));
      await pool.query('SELECT th_sneaky_write()');
      assert.equal(misroutes.length, 1);
    } finally {
      await pool.end();
    }
  });

  test('withReplicaLag: the replicas really lag inside the block, not after it', async () => {
    const direct = await primaryConnection(local);
    try {
      await withReplicaLag(local, 1500, async () => {
        await direct.q('INSERT INTO th_items VALUES (2)');
        const rows = await db.q(`SELECT count(*) AS n, ${db.PORT} FROM th_items WHERE id = 2`);
        assert.match(db.aliasOf(rows), /^replica/);
        assert.equal(Number(rows[0]!.n), 0, 'a replica 1.5 s late has not applied the insert yet');
      });
      await direct.q('INSERT INTO th_items VALUES (3)');
      await local.waitForAllReplicas(1000); // with the 1.5 s delay still on, this would time out
    } finally {
      await direct.end();
    }
  });
});
