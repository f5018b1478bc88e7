// Read-your-writes across a failover (PostgreSQL, a cluster of this file's own): a unit of work
// wrote on the old primary, which is then killed and replaced; its next reads ask the new primary
// for a position instead of failing or staying on the primary for good.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, ownCluster } from '../harness/clusters.js';
import { watchCluster, type ClusterHealth } from '../../src/health/cluster-health.js';
import { routedDb, SECRET, type Db } from './consistency-helpers.js';

describe('read-your-writes across a failover (postgres)', { skip: await engineSkip('postgres') }, () => {
  let local: LocalCluster;
  let d: Db;
  before(async () => {
    local = await ownCluster('postgres', { replicas: 2 });
    d = routedDb(local, { consistency: { secret: SECRET } });
    await d.q('CREATE TABLE fo_items (id int PRIMARY KEY, v text)');
    await local.waitForAllReplicas();
  });
  after(async () => {
    await d.end();
    await local.down();
  });

  test('a unit of work that wrote on a primary since killed reads again once the new primary is known', async () => {
    await d.q('INSERT INTO fo_items VALUES (1, ?)', ['before']);
    await local.waitForAllReplicas();
    await local.kill('default');
    await local.promote('replica1');
    d.cluster.setNodeState('default', 'down');
    d.cluster.setRole('replica1', 'primary');
    d.cluster.setRole('default', 'replica');
    await local.waitForReplay('replica2');
    const rows = await d.q(`SELECT (SELECT v FROM fo_items WHERE id = 1) AS v, ${d.PORT}`);
    assert.equal(rows[0]!.v, 'before');
    assert.equal(d.aliasOf(rows), 'replica2', "the new primary's position stands for the lost one's: a caught-up replica serves it");
    assert.equal(d.cluster.consistencyStats().primaryFallbacks, 0);
    await d.q('INSERT INTO fo_items VALUES (2, ?)', ['after']);
    const again = await d.q(`SELECT (SELECT v FROM fo_items WHERE id = 2) AS v, ${d.PORT}`);
    assert.equal(again[0]!.v, 'after', 'reads its write on the new primary');
    await local.waitForReplay('replica2');
    await new Promise((r) => setTimeout(r, 30));
    const later = await d.q(`SELECT (SELECT v FROM fo_items WHERE id = 2) AS v, ${d.PORT}`);
    assert.deepEqual([later[0]!.v, d.aliasOf(later)], ['after', 'replica2'], 'and back on a replica once it replayed');
  });
});

describe('a token asked for while the primary is down (postgres, health monitor on)', { skip: await engineSkip('postgres') }, () => {
  let local: LocalCluster;
  let d: Db;
  let health: ClusterHealth;
  before(async () => {
    local = await ownCluster('postgres', { replicas: 2 });
    d = routedDb(local, { consistency: { secret: SECRET } });
    health = watchCluster(d.cluster, { checkIntervalMillis: 100, checkTimeoutMillis: 300, failoverTimeoutMillis: 5000 });
    health.on('error', () => undefined);
    await health.start();
    await d.q('CREATE TABLE fo_tok (id int PRIMARY KEY, v text)');
    await local.waitForAllReplicas();
  });
  after(async () => {
    await health.stop();
    await d.end();
    await local.down();
  });

  test('waits for the new primary instead of failing, and the token it gives reads the write back', async () => {
    const token = await d.cluster.withToken(undefined, async () => {
      await d.q('INSERT INTO fo_tok VALUES (1, ?)', ['written before the crash']);
      await local.kill('default');
      // The position was not captured yet (captures are lazy): the primary that took the write is gone.
      const asked = d.cluster.consistencyToken();
      await local.promote('replica1');
      return await asked;
    });
    assert.ok(token, 'a token, not an error');
    const rows = await d.cluster.withToken(token, () => d.q(`SELECT (SELECT v FROM fo_tok WHERE id = 1) AS v, ${d.PORT}`));
    assert.equal(rows[0]!.v, 'written before the crash');
    assert.notEqual(d.aliasOf(rows), 'default', 'served by a live node');
  });
});
