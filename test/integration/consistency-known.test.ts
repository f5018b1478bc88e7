// Read-your-writes decided from what the health monitor already knows, with no round trip: a read
// after a write goes straight to a replica the monitor has seen replay a primary position sampled
// after the write, and straight to the primary while every replica applies later than the time
// since the write. Asserted by where the read ran (the server's own port), what it saw, and that no
// position was asked (the consistency layer's captures and probes stay put).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalCluster } from '../../src/local/index.js';
import { watchCluster, type ClusterHealth } from '../../src/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';
import { routedDb, SECRET, until, type Db } from './consistency-helpers.js';

for (const engine of ['postgres', 'mariadb'] as const) {
  describe(`consistency from the monitor's knowledge on ${engine}`, { skip: await engineSkip(engine) }, () => {
    let local: LocalCluster;
    let db: Db;
    let health: ClusterHealth;
    let n = 0;
    const id = () => Date.now() * 100 + (n++ % 100);

    before(async () => {
      local = await sharedCluster(engine);
      db = routedDb(local, { consistency: { secret: SECRET } });
      health = watchCluster(db.cluster, { checkIntervalMillis: 100, maxReplicationLagMillis: 60_000 });
      await health.start();
      await db.q('DROP TABLE IF EXISTS ck_items');
      await db.q('CREATE TABLE ck_items (id bigint PRIMARY KEY, v varchar(100))');
      await local.waitForAllReplicas();
    });
    after(async () => {
      await health.stop();
      await db.end();
    });

    /** Resolves after every node has been checked twice more (a check that started after now). */
    const checkedTwice = (): Promise<void> => {
      const left = new Map(db.cluster.aliases.map((a) => [a, 2]));
      return new Promise((resolve) => {
        const onCheck = ({ alias, ok }: { alias: string; ok: boolean }) => {
          if (ok) left.set(alias, Math.max(0, (left.get(alias) ?? 0) - 1));
          if ([...left.values()].every((v) => v === 0)) {
            health.off('check', onCheck);
            resolve();
          }
        };
        health.on('check', onCheck);
      });
    };

    test('a replica the monitor saw replay past the write serves the read, nothing asked', async () => {
      const key = id();
      await db.cluster.withToken(undefined, async () => {
        await db.q('INSERT INTO ck_items (id, v) VALUES (?, ?)', [key, 'fresh']);
        await local.waitForAllReplicas();
        await checkedTwice();
        const before = db.cluster.consistencyStats();
        const rows = await db.q(`SELECT (SELECT v FROM ck_items WHERE id = ?) AS v, ${db.PORT}`, [key]);
        const after = db.cluster.consistencyStats();
        assert.equal(rows[0]!.v, 'fresh', 'the read saw its write');
        assert.match(db.aliasOf(rows), /^replica/, 'a replica served it');
        assert.equal(after.knownFresh - before.knownFresh, 1);
        assert.equal(after.captures - before.captures, 0, 'the primary was not asked for a position');
        assert.equal(after.probes - before.probes, 0, 'no replica was asked for its position');
      });
    });

    test('while every replica applies later than the time since the write, the primary serves it, nothing asked', async () => {
      for (const r of local.replicaAliases) await local.setDelay(r, 3000);
      let writing = true;
      const writer = (async () => {
        // Changes keep flowing, so each replica's lag is its apply delay.
        while (writing) {
          await db.cluster.withToken(undefined, () => db.q('INSERT INTO ck_items (id, v) VALUES (?, ?)', [id(), 'tick']));
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      try {
        await until(() => (db.cluster.status()?.nodes ?? []).filter((x) => x.role === 'replica').every((x) => (x.lagMillis ?? 0) > 1500), 20_000, 'both replicas report a lag above 1.5 s');
        const key = id();
        await db.cluster.withToken(undefined, async () => {
          await db.q('INSERT INTO ck_items (id, v) VALUES (?, ?)', [key, 'mine']);
          const before = db.cluster.consistencyStats();
          const rows = await db.q(`SELECT (SELECT v FROM ck_items WHERE id = ?) AS v, ${db.PORT}`, [key]);
          const after = db.cluster.consistencyStats();
          assert.equal(rows[0]!.v, 'mine', 'the read saw its write');
          assert.equal(db.aliasOf(rows), 'default', 'the primary served it');
          assert.equal(after.knownBehind - before.knownBehind, 1);
          assert.equal(after.captures - before.captures, 0, 'the primary was not asked for a position');
          assert.equal(after.probes - before.probes, 0, 'no replica was asked for its position');
        });
      } finally {
        writing = false;
        await writer;
        for (const r of local.replicaAliases) await local.setDelay(r, 0);
        await local.waitForAllReplicas();
      }
    });
  });
}
