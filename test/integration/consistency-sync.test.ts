// Synchronous writes: on a PostgreSQL cluster started with `sync` (synchronous_standby_names =
// 'ANY 1 (*)') a write in cluster.synchronous() returns once its replica applied it, so a read right
// after is served by that replica and sees it; a paused replica makes it SYNC_TIMEOUT, not a hang.
// Without synchronous replicas (the shared clusters, MariaDB) it is SYNC_UNAVAILABLE before anything runs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isDbRouterError } from '../../src/index.js';
import { startCluster, type LocalCluster } from '../../src/local/index.js';
import { engineSkip, ownCluster, sharedCluster } from '../harness/clusters.js';
import { routedDb, SECRET, type Db } from './consistency-helpers.js';

describe('synchronous writes on PostgreSQL (cluster up --sync)', { skip: await engineSkip('postgres') }, () => {
  let local: LocalCluster;
  let d: Db;
  before(async () => {
    local = await ownCluster('postgres', { replicas: 1, sync: true });
    d = routedDb(local, { consistency: { secret: SECRET, synchronousTimeoutMillis: 300 } });
    await d.q('CREATE TABLE sync_items (id int PRIMARY KEY, v text)');
    await local.waitForAllReplicas();
  });
  after(async () => {
    await d.end();
    await local.down();
  });

  test('a synchronous write returns once the replica applied it: reads right after are served by it and see it', async () => {
    for (let i = 1; i <= 20; i++) {
      await d.cluster.synchronous(() => d.q('INSERT INTO sync_items VALUES (?, ?)', [i, `s${i}`]));
      const rows = await d.q(`/* dbrouter:eventual */ SELECT (SELECT v FROM sync_items WHERE id = ?) AS v, ${d.PORT}`, [i]);
      assert.deepEqual([rows[0]!.v, d.aliasOf(rows)], [`s${i}`, 'replica1']);
      const own = await d.q(`SELECT (SELECT v FROM sync_items WHERE id = ?) AS v, ${d.PORT}`, [i]);
      assert.deepEqual([own[0]!.v, d.aliasOf(own)], [`s${i}`, 'replica1'], 'session: the replica has it, no primary fallback');
    }
    assert.equal(d.cluster.consistencyStats().primaryFallbacks, 0);
    const hinted = await d.q('/* dbrouter:synchronous */ INSERT INTO sync_items VALUES (?, ?)', [100, 'hint']);
    assert.ok(Array.isArray(hinted));
    const rows = await d.q(`/* dbrouter:eventual */ SELECT (SELECT v FROM sync_items WHERE id = 100) AS v, ${d.PORT}`);
    assert.equal(rows[0]!.v, 'hint');
  });

  test('a paused synchronous replica: SYNC_TIMEOUT after synchronousTimeoutMillis, never a hang', async () => {
    await local.pause('replica1');
    try {
      const t0 = performance.now();
      await assert.rejects(d.cluster.synchronous(() => d.q('INSERT INTO sync_items VALUES (?, ?)', [200, 'late'])), (e: unknown) => isDbRouterError(e, 'SYNC_TIMEOUT'));
      const ms = performance.now() - t0;
      assert.ok(ms >= 290 && ms < 3000, `${Math.round(ms)} ms`);
    } finally {
      await local.resume('replica1');
    }
    await local.waitForAllReplicas();
  });
});

for (const engine of ['postgres', 'mariadb'] as const) {
  describe(`synchronous writes without synchronous replicas (${engine})`, { skip: await engineSkip(engine) }, () => {
    let d: Db;
    before(async () => {
      d = routedDb(await sharedCluster(engine));
    });
    after(async () => {
      await d.end();
    });
    test('SYNC_UNAVAILABLE before anything runs, never a silent downgrade', async () => {
      let ran = false;
      await assert.rejects(d.cluster.synchronous(() => {
        ran = true;
      }), (e: unknown) => isDbRouterError(e, 'SYNC_UNAVAILABLE'));
      assert.equal(ran, false);
    });
  });
}

describe('cluster up --sync on MariaDB', { skip: await engineSkip('mariadb') }, () => {
  test('is SYNC_UNAVAILABLE (semi-synchronous replication only acknowledges receipt)', async () => {
    await assert.rejects(startCluster({ engine: 'mariadb', sync: true, dir: '/tmp/dbrouter-never-created' }), (e: unknown) => isDbRouterError(e, 'SYNC_UNAVAILABLE'));
  });
});
