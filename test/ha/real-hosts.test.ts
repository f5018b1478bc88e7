// dbrouter on real hosts: each PostgreSQL node its own network namespace and address (Patroni keeps
// the roles; nothing fails over in this file), the app in the root namespace. Round trips of 5 and
// 50 ms, a replica partitioned away, the primary cut from the app only, a replica cut from its
// primary only. Where each statement ran comes from the server (`inet_server_addr()`).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { adminUrl, haSkip, HOSTS, net, patroni, until, type Host } from './topology.js';
import { CHECKS, routed, type Routed } from './routed.js';
import { createTable, summary, TABLE, verdict, Workload } from './workload.js';

const FAILOVER_TIMEOUT = 8000;

describe('real hosts: namespaces, delay and partitions', { skip: haSkip }, () => {
  let r: Routed;
  let leader: Host;
  let replicas: Host[];
  let load: Workload | undefined;
  const startLoad = () => new Workload(r.cluster, r.pool, { users: 6, readers: 4, writeShare: 0.2, opBoundMillis: 15_000 });
  const nodeHealth = (h: Host) => r.health.status().nodes.find((n) => n.alias === h)!;

  before(async () => {
    await patroni.up();
    leader = (await patroni.leader())!;
    replicas = HOSTS.filter((h) => h !== leader);
    r = await routed({ health: { failoverTimeoutMillis: FAILOVER_TIMEOUT } });
    await createTable(r.pool);
  });

  after(async () => {
    await load?.stop(1000);
    await net.heal().catch(() => undefined);
    for (const h of HOSTS) await net.undelay(h).catch(() => undefined);
    await r?.end();
    await patroni.down();
  });

  for (const rtt of [5, 50]) {
    test(`app ↔ nodes at ${rtt} ms round trip: routing, read-your-writes and health stay right`, async () => {
      for (const h of HOSTS) await net.delay(h, rtt, 'app');
      try {
        // The monitor sees the new round trip (its checks keep their connections: one round trip each).
        await until(() => HOSTS.every((h) => (nodeHealth(h).rttMillis ?? 0) >= rtt * 0.9), 10_000, `rtt ≥ ${rtt} ms on every node`);
        const status = r.health.status();
        assert.equal(status.primary, leader);
        for (const h of replicas) {
          const n = nodeHealth(h);
          assert.equal(n.state, 'up', `${h} up`);
          assert.ok(n.inRotation, `${h} serves reads`);
          assert.ok((n.lagMillis ?? 0) < CHECKS.maxReplicationLagMillis, `${h}: lag ${n.lagMillis} ms is not the round trip counted as lag`);
        }
        const readHosts = new Set<string>();
        const t0 = performance.now();
        for (let i = 0; i < 20; i++) {
          const { rows } = await r.pool.query<{ a: string }>('SELECT host(inet_server_addr()) AS a');
          readHosts.add(rows[0]!.a);
        }
        const readMillis = (performance.now() - t0) / 20;
        assert.deepEqual([...readHosts].sort(), replicas.map((h) => `10.233.0.${10 + Number(h.slice(1))}`).sort(), 'reads on both replicas, none on the primary');
        // Read-your-writes, each request its own unit of work carrying its token.
        let stale = 0;
        const where = new Map<string, number>();
        for (let i = 1; i <= 20; i++) {
          const token = await r.cluster.withToken(undefined, async () => {
            const { rows } = await r.pool.query<{ a: string }>(`INSERT INTO ${TABLE} (u, seq) VALUES (${1000 + rtt}, $1) RETURNING host(inet_server_addr()) AS a`, [i]);
            assert.equal(rows[0]!.a, `10.233.0.${10 + Number(leader.slice(1))}`, 'the write ran on the primary');
            return r.cluster.consistencyToken();
          });
          await r.cluster.withToken(token, async () => {
            const { rows } = await r.pool.query<{ a: string; m: number }>(`SELECT host(inet_server_addr()) AS a, max(seq)::int AS m FROM ${TABLE} WHERE u = ${1000 + rtt}`);
            if (rows[0]!.m !== i) stale++;
            where.set(rows[0]!.a, (where.get(rows[0]!.a) ?? 0) + 1);
          });
        }
        console.log(`rtt ${rtt} ms: monitor rtt ${HOSTS.map((h) => `${h}=${nodeHealth(h).rttMillis?.toFixed(1)}`).join(' ')} ms; a read through the pool ${readMillis.toFixed(1)} ms; own reads after a write: ${[...where].map(([a, n]) => `${a}×${n}`).join(' ')}; stale ${stale}`);
        assert.equal(stale, 0, 'no stale own read');
      } finally {
        for (const h of HOSTS) await net.undelay(h);
      }
    });
  }

  /** Runs `during` with the partition in place and always heals it. */
  async function partitioned<T>(host: Host, from: Host | 'app' | undefined, during: (since: number) => Promise<T>): Promise<T> {
    await net.partition(host, from);
    try {
      return await during(performance.now());
    } finally {
      await net.heal(host);
    }
  }

  test('a replica partitioned away: out of reads within its check bound, no read fails, back after heal', async () => {
    const [victim] = replicas as [Host, Host];
    load ??= startLoad();
    await until(() => load!.readHosts(performance.now() - 500).size >= 2, 10_000, 'reads on both replicas');
    const t0 = performance.now();
    const bound = CHECKS.checkIntervalMillis * CHECKS.failuresBeforeDown + CHECKS.checkTimeoutMillis * CHECKS.failuresBeforeDown + 500;
    const outMillis = await partitioned(victim, undefined, async () => {
      const millis = await until(() => r.cluster.nodeState(victim) === 'down', 10_000, `${victim} down`);
      const out = performance.now();
      await until(() => load!.reads(out).length > 100, 10_000, 'reads after it is out');
      assert.ok(!load!.readHosts(out).has(victim), 'no read began on the partitioned replica once it was down');
      return millis;
    });
    const healed = performance.now();
    const backMillis = await until(() => load!.readHosts(healed).has(victim), 15_000, `reads on ${victim} again`);
    const failed = load.failedReads(t0);
    console.log(`replica ${victim} partitioned: down after ${outMillis.toFixed(0)} ms (bound ${bound} ms), reads there again ${backMillis.toFixed(0)} ms after heal; failed reads ${failed.length} (${failed.map((o) => o.code ?? o.error).join('; ')})`);
    assert.ok(outMillis <= bound, `out of reads within ${bound} ms`);
    assert.deepEqual(failed.map((o) => o.error), [], 'no read failed or hung (reads in flight on the partitioned replica included)');
  });

  test('the primary partitioned from the app only: writes wait, nothing splits, reads go on; writes back after heal', async () => {
    load ??= startLoad();
    await until(() => load!.firstWriteAfter(performance.now() - 500), 5000, 'writes flowing');
    const t0 = performance.now();
    let cutAt = Number.POSITIVE_INFINITY;
    let probeWrite: Promise<{ ok: true; a: string; at: number } | { ok: false; error: string; at: number }> | undefined;
    const partitionMillis = await partitioned(leader, 'app', async (since) => {
      cutAt = since;
      await until(() => r.health.status().primaryAvailable === false, 10_000, 'the monitor sees the primary gone');
      const seen = performance.now();
      // A write issued now, with the primary known unreachable, must wait for it (not fail, not go elsewhere).
      probeWrite = r.pool.query<{ a: string }>(`INSERT INTO ${TABLE} (u, seq) VALUES (3000, 1) RETURNING host(inet_server_addr()) AS a`).then(
        (res) => ({ ok: true as const, a: res.rows[0]!.a, at: performance.now() }),
        (e: unknown) => ({ ok: false as const, error: `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`, at: performance.now() }),
      );
      await until(() => load!.reads(seen).filter((o) => o.ok).length > 100, 10_000, 'reads go on');
      // Writes that began once the drop rules were in place (earlier ones may have got through).
      const duringWrites = load!.writes(since).filter((o) => o.ok && o.start > since);
      assert.deepEqual(duringWrites.map((o) => o.host), [], 'no write acknowledged while the primary is unreachable');
      assert.equal(r.health.status().splitBrain, undefined);
      assert.equal(await patroni.leader(replicas[0]), leader, 'Patroni kept its leader (it still reaches etcd)');
      return performance.now() - t0;
    });
    const healed = performance.now();
    const probe = await probeWrite!;
    assert.ok(probe.ok, `the write issued while the primary was known down waited and succeeded (${probe.ok ? '' : probe.error})`);
    assert.equal(probe.a, `10.233.0.${10 + Number(leader.slice(1))}`, 'it ran on the one primary');
    assert.ok(probe.at >= healed, 'it was acknowledged only after heal');
    const backMillis = await until(() => load!.firstWriteAfter(healed - 10_000)?.at, 15_000, 'a write acknowledged after heal');
    const waited = load.writes(t0).filter((o) => o.ok && o.start < healed && o.at > healed);
    console.log(`primary ${leader} cut from the app for ${partitionMillis.toFixed(0)} ms: writes that waited through it and then succeeded ${waited.length} + the probe write (${(probe.at - healed).toFixed(0)} ms after heal), first write back ${backMillis.toFixed(0)} ms after heal; reads during the partition ${load.reads(t0).filter((o) => o.at < healed && o.ok).length}, failed ${load.failedReads(t0).length}; failed writes ${load.writes(t0).filter((o) => !o.ok).map((o) => o.code ?? o.error).join('; ')}`);
    assert.ok(partitionMillis < FAILOVER_TIMEOUT, 'the partition ended before writes would give up');
    assert.ok(load.writes(t0).filter((o) => o.ok).every((o) => o.host === leader), 'every write ran on the one primary');
    // Events since this test began; the monitor may lose the primary and find the same one again.
    const splits = r.events.filter((e) => e.at >= t0 && (e.name === 'split-brain' || (e.name === 'primary-changed' && (e.detail as { to?: string }).to !== leader)));
    assert.deepEqual(splits.map((e) => `${e.name} ${JSON.stringify(e.detail)}`), [], 'no split brain, no other primary');
    // Writes issued once the primary was known unreachable waited for it. A write sent before that — in
    // flight when the traffic stopped, or sent into the silence before the monitor's checks had failed
    // (the client cannot tell whether the server got it) — is cut once the monitor finds the primary down
    // (its connections are destroyed: no wait is unbounded) and reports what is known:
    // WRITE_OUTCOME_UNKNOWN (the history test checks that no acknowledged write was lost).
    const downAt = r.events.find((e) => e.at >= cutAt && e.name === 'node-down' && (e.detail as { alias?: string }).alias === leader)?.at;
    assert.ok(downAt !== undefined, `a node-down event for ${leader} during the partition`);
    const failedWrites = load.writes(t0).filter((o) => !o.ok);
    console.log(`primary ${leader} found down ${(downAt - cutAt).toFixed(0)} ms after the cut; failed writes issued before the cut ${failedWrites.filter((o) => o.start <= cutAt).length}, between the cut and down ${failedWrites.filter((o) => o.start > cutAt && o.start <= downAt).length}, after down ${failedWrites.filter((o) => o.start > downAt).length}`);
    assert.deepEqual(failedWrites.filter((o) => o.start > downAt).map((o) => o.code ?? o.error), [], 'writes issued once the primary was known down waited, none failed');
    assert.deepEqual(failedWrites.filter((o) => o.code !== 'WRITE_OUTCOME_UNKNOWN').map((o) => o.code ?? o.error), [], 'a write in flight at the cut: WRITE_OUTCOME_UNKNOWN');
    assert.deepEqual(load.failedReads(t0).map((o) => o.error), [], 'reads went on');
  });

  test('a replica cut from its primary only: its lag grows, it leaves reads, it comes back', async () => {
    const victim = replicas[1]!;
    load ??= startLoad();
    await until(() => r.cluster.nodeState(victim) === 'up' && load!.readHosts(performance.now() - 300).has(victim), 15_000, `${victim} serving reads`);
    const t0 = performance.now();
    const [outMillis, lag1, lag2] = await partitioned(victim, leader, async () => {
      const millis = await until(() => r.cluster.nodeState(victim) === 'lagging', 15_000, `${victim} lagging`);
      const first = nodeHealth(victim).lagMillis ?? 0;
      await until(() => (nodeHealth(victim).lagMillis ?? 0) > first + 500, 5000, 'lag grows');
      const out = performance.now();
      await until(() => load!.reads(out).length > 50, 10_000, 'reads after it left');
      assert.ok(!load!.readHosts(out).has(victim), 'no read began on the lagging replica');
      assert.equal(r.cluster.nodeState(victim), 'lagging', 'still reachable, only late');
      return [millis, first, nodeHealth(victim).lagMillis ?? 0] as const;
    });
    const backMillis = await until(() => r.cluster.nodeState(victim) === 'up', 30_000, `${victim} caught up`);
    console.log(`replica ${victim} cut from primary ${leader}: lagging after ${outMillis.toFixed(0)} ms (bound ${CHECKS.maxReplicationLagMillis} ms), lag seen ${lag1} → ${lag2} ms; back ${backMillis.toFixed(0)} ms after heal; failed reads ${load.failedReads(t0).length}`);
    assert.deepEqual(load.failedReads(t0).map((o) => o.error), []);
  });

  test('history: no stale own read, no lost acknowledged write', async () => {
    assert.ok(load, 'the load ran');
    await load.stop(5000);
    const c = new pg.Client({ connectionString: adminUrl(leader), connectionTimeoutMillis: 5000 });
    await c.connect();
    const { rows } = await c.query<{ k: string }>(`SELECT u || '/' || seq AS k FROM ${TABLE}`);
    await c.end();
    const v = verdict(load, new Set(rows.map((x) => x.k)));
    console.log(`real hosts history: ${summary(v)}`);
    assert.equal(v.lost.length, 0);
    assert.equal(v.staleOwnReads.length, 0);
    assert.deepEqual(v.failedReads.map((o) => o.error), []);
  });
});
