// Consistency levels on real clusters, both engines: read-your-writes with replay paused on every
// replica, asserted by what a read saw and by where it ran (the server's own port, the statement
// log); tokens good and bad; a position far in the future; what it costs per unit of work.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TokenCodec } from '../../src/consistency/token.js';
import { CONSISTENCY } from '../../src/cluster/internals.js';
import type { Engine, LocalCluster } from '../../src/local/index.js';
import { watchCluster } from '../../src/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';
import { routedDb, SECRET, until, withReplicasPaused, type Db } from './consistency-helpers.js';

const FUTURE: Record<Engine, string> = { postgres: 'FFFF/FFFFFFFF', mariadb: '0-1-999999999' };
/** Position captures per write → read transition: MariaDB reports a write's GTID with its result (none to ask). */
const CAPTURES: Record<Engine, number> = { postgres: 1, mariadb: 0 };

for (const engine of ['postgres', 'mariadb'] as const) {
  describe(`consistency on ${engine}`, { skip: await engineSkip(engine) }, () => {
    let local: LocalCluster;
    const opened: Db[] = [];
    const db = (extra: Parameters<typeof routedDb>[1] = {}): Db => {
      const d = routedDb(local, { consistency: { secret: SECRET }, ...extra });
      opened.push(d);
      return d;
    };
    let n = 0;
    const id = () => Date.now() * 100 + (n++ % 100);

    before(async () => {
      local = await sharedCluster(engine);
      const d = db();
      await d.q('DROP TABLE IF EXISTS cs_items');
      await d.q('CREATE TABLE cs_items (id bigint PRIMARY KEY, v varchar(100))');
      await local.waitForAllReplicas();
    });
    after(async () => {
      await Promise.all(opened.map((d) => d.end()));
    });

    const seen = async (d: Db, key: number): Promise<{ v: unknown; alias: string }> => {
      const rows = await d.q(`SELECT (SELECT v FROM cs_items WHERE id = ?) AS v, ${d.PORT}`, [key]);
      return { v: rows[0]?.v ?? null, alias: d.aliasOf(rows) };
    };

    test('code outside any scope reads its own writes with every replica paused; another unit of work reads a replica; after resume, replicas again', async () => {
      const d = db();
      const key = id();
      await withReplicasPaused(local, async () => {
        await d.q('INSERT INTO cs_items VALUES (?, ?)', [key, 'mine']);
        assert.deepEqual(await seen(d, key), { v: 'mine', alias: 'default' });
        assert.equal(d.cluster.queries.at(-1)!.reason, 'read-your-writes');
        const other = await d.cluster.withToken(undefined, () => seen(d, key));
        assert.equal(other.v, null, 'a replica has not replayed it');
        assert.match(other.alias, /^replica/);
      });
      const back = await seen(d, key);
      assert.equal(back.v, 'mine');
      assert.match(back.alias, /^replica/, 'caught-up replicas serve the reads again');
      assert.equal(d.cluster.consistencyStats().captures, CAPTURES[engine], 'at most one position capture for the write');
    });

    test('the cost: one capture per write → read transition, replica positions shared, no round trip per statement', async () => {
      const d = db();
      await d.q('INSERT INTO cs_items VALUES (?, ?)', [id(), 'cost']);
      await local.waitForAllReplicas();
      d.cluster.resetStats();
      const key = id();
      await d.cluster.withToken(undefined, async () => {
        await d.q('INSERT INTO cs_items VALUES (?, ?)', [key, 'c']);
        for (let i = 0; i < 20; i++) {
          // Replicas replay within a millisecond or so; a replica position is asked at most every
          // probeIntervalMillis (10 ms), so reads in between may still go to the primary.
          if (i === 10) await new Promise((r) => setTimeout(r, 30));
          assert.equal((await seen(d, key)).v, 'c');
        }
      });
      const s = d.cluster.consistencyStats();
      assert.equal(s.captures, CAPTURES[engine]);
      assert.ok(s.probes <= 3 * local.replicaAliases.length, `probes ${s.probes}`);
      const last = d.cluster.queries.slice(-10);
      assert.ok(last.every((q) => q.role === 'replica'), `after the replicas replayed, reads are on replicas: ${last.map((q) => q.alias).join(' ')}`);
    });

    test('levels: strong → the primary; eventual → a replica even right after a write; a statement hint; a scope', async () => {
      const d = db();
      const key = id();
      await withReplicasPaused(local, async () => {
        await d.q('INSERT INTO cs_items VALUES (?, ?)', [key, 'lv']);
        assert.deepEqual(await d.cluster.consistency('eventual', () => seen(d, key)).then((r) => r.v), null);
        assert.match(d.cluster.queries.at(-1)!.alias, /^replica/);
        const hinted = await d.q(`/* dbrouter:eventual */ SELECT (SELECT v FROM cs_items WHERE id = ?) AS v, ${d.PORT}`, [key]);
        assert.match(d.aliasOf(hinted), /^replica/);
        assert.equal((await seen(d, key)).alias, 'default', 'session (the default) still reads its own write');
      });
      const strong = db({ consistency: { level: 'strong', secret: SECRET } });
      assert.equal((await seen(strong, key)).alias, 'default');
      assert.equal(strong.cluster.queries.at(-1)!.reason, 'consistency-strong');
      assert.equal((await d.cluster.consistency('strong', () => seen(d, key))).alias, 'default');
      const h = await d.q(`/* dbrouter:strong */ SELECT ${d.PORT}`);
      assert.equal(d.aliasOf(h), 'default');
    });

    test('bounded staleness: replicas known fresh within the bound serve; paused beyond it → the primary', async () => {
      const d = db({ consistency: { level: { maxStalenessMillis: 150 }, secret: SECRET } });
      assert.match((await seen(d, 0)).alias, /^replica/);
      await withReplicasPaused(local, async () => {
        await d.cluster.withToken(undefined, () => d.q('INSERT INTO cs_items VALUES (?, ?)', [id(), 'b']));
        await new Promise((r) => setTimeout(r, 300));
        assert.equal((await seen(d, 0)).alias, 'default');
        assert.equal(d.cluster.queries.at(-1)!.reason, 'bounded-staleness');
      });
      assert.match((await seen(d, 0)).alias, /^replica/);
    });

    test('a token carries the write to a job: withToken(token) reads it with replicas paused', async () => {
      const d = db();
      const key = id();
      await withReplicasPaused(local, async () => {
        const token = await d.cluster.withToken(undefined, async () => {
          await d.q('INSERT INTO cs_items VALUES (?, ?)', [key, 'job']);
          return d.cluster.consistencyToken();
        });
        assert.ok(token !== undefined && token.length < 120, `compact token: ${token}`);
        assert.deepEqual(await d.cluster.withToken(token, () => seen(d, key)), { v: 'job', alias: 'default' });
        assert.equal(await d.cluster.withToken(undefined, () => d.cluster.consistencyToken()), undefined, 'no write, no token');
      });
      assert.equal(d.cluster.consistencyStats().tokens.accepted, 1);
    });

    test('bad tokens are ignored and counted: tampered, expired, oversized, malformed, foreign', async () => {
      const d = db();
      const layer = d.cluster[CONSISTENCY];
      const good = layer.codec().encode(FUTURE[engine]);
      const bad = {
        tampered: `${good.slice(0, -3)}${good.endsWith('AAA') ? 'BBB' : 'AAA'}`,
        expired: new TokenCodec({ secret: SECRET, clusterId: layer.clusterId, now: () => Date.now() - 3_600_000 }).encode(FUTURE[engine]),
        oversized: `v1.${'A'.repeat(600)}.x`,
        malformed: 'not-a-token',
        foreign: new TokenCodec({ secret: SECRET, clusterId: 'another-cluster' }).encode(FUTURE[engine]),
      };
      for (const token of Object.values(bad)) {
        const r = await d.cluster.withToken(token, () => seen(d, 0));
        assert.match(r.alias, /^replica/, 'an ignored token asks nothing of the replicas');
      }
      assert.deepEqual(d.cluster.consistencyStats().tokens.rejected, { tampered: 1, expired: 1, oversized: 1, malformed: 1, foreign: 1 });
    });

    test('a position far in the future: a bounded wait, then the primary — never a hang', async () => {
      const d = db({ consistency: { secret: SECRET, onBehind: 'wait', waitMillis: 300 } });
      const token = d.cluster[CONSISTENCY].codec().encode(FUTURE[engine]);
      const t0 = performance.now();
      const r = await d.cluster.withToken(token, () => seen(d, 0));
      const ms = performance.now() - t0;
      assert.equal(r.alias, 'default');
      assert.ok(ms >= 290 && ms < 2000, `waited ${Math.round(ms)} ms`);
      assert.equal(d.cluster.consistencyStats().waitsTimedOut, 1);
      const quick = db();
      await quick.cluster.ready(); // the cluster's first use (roles, first health checks) is not what is timed
      const t1 = performance.now();
      assert.equal((await quick.cluster.withToken(quick.cluster[CONSISTENCY].codec().encode(FUTURE[engine]), () => seen(quick, 0))).alias, 'default');
      // Not timed to the millisecond (a loaded machine): the counters say whether it waited.
      assert.equal(quick.cluster.consistencyStats().waits, 0, "onBehind: 'primary' does not wait");
      assert.equal(quick.cluster.consistencyStats().primaryFallbacks, 1);
      assert.ok(performance.now() - t1 < 1500, 'and answers without a replica wait');
    });

    test('with a health monitor running, replica positions and lag come from its checks: no probes of our own', async () => {
      const d = db({ consistency: { secret: SECRET } });
      const health = watchCluster(d.cluster, { checkIntervalMillis: 50 });
      await health.start();
      try {
        const key = id();
        const token = await d.cluster.withToken(undefined, async () => {
          await d.q('INSERT INTO cs_items VALUES (?, ?)', [key, 'h']);
          return d.cluster.consistencyToken();
        });
        await local.waitForAllReplicas();
        // The monitor must have seen the replicas since they replayed: a check that started after.
        const replayedAt = Date.now();
        await until(() => health.status().nodes.every((n) => n.role !== 'replica' || (n.lastCheckAt ?? 0) > replayedAt && n.reachable === true), 5000, 'a monitor check after the replay');
        d.cluster.resetStats();
        assert.deepEqual((await d.cluster.withToken(token, () => seen(d, key))).v, 'h');
        assert.match(d.cluster.queries.at(-1)!.alias, /^replica/);
        const bounded = await d.cluster.consistency({ maxStalenessMillis: 1000 }, () => seen(d, key));
        assert.match(bounded.alias, /^replica/);
        assert.equal(d.cluster.consistencyStats().probes, 0);
      } finally {
        await health.stop();
      }
    });

    test("onBehind: 'wait': a read waits for a paused replica and is served by it once resumed", async () => {
      const d = db({ consistency: { secret: SECRET, onBehind: 'wait', waitMillis: 5000 } });
      const key = id();
      const replicas = local.replicaAliases;
      try {
        for (const r of replicas) await local.pause(r);
        await d.q('INSERT INTO cs_items VALUES (?, ?)', [key, 'w']);
        const read = seen(d, key);
        await until(() => d.cluster.consistencyStats().waits === 1, 5000, 'the read waiting for a replica');
        await local.resume(replicas[0]!);
        const r = await read;
        assert.deepEqual(r, { v: 'w', alias: replicas[0] });
        assert.equal(d.cluster.consistencyStats().caughtUp, 1);
      } finally {
        for (const r of replicas) await local.resume(r).catch(() => {});
        await local.waitForAllReplicas();
      }
    });
  });
}
