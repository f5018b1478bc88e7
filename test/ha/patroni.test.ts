// Patroni (Debian's 3.0.2) with etcd managing three PostgreSQL 15 nodes, each its own host: Patroni's
// own automatic failover after the leader's host dies or is partitioned, a planned switchover, a
// replica rebuilt (patronictl reinit). dbrouter is configured once with the three hosts and no roles;
// it follows every change with no operator step. Simulated users (each request its own unit of work,
// carrying its consistency token) run through all of it; the history is checked at the end.
// Patroni timing: ttl 10 s, loop_wait 1 s, retry_timeout 3 s (test/ha/net/patroni_up.sh).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { adminUrl, haSkip, HOSTS, local, localRest, net, patroni, rest, tick, until, waitFor, watchLeader, type Host } from './topology.js';
import { routed, type Routed } from './routed.js';
import { createTable, summary, TABLE, verdict, Workload, type Verdict } from './workload.js';

/** dbrouter's write wait must outlast Patroni's failover (ttl 10 s + up to ~2 s after a partition). */
const FAILOVER_TIMEOUT = 30_000;
/** The bound this file states for "writes back after Patroni's promotion". */
const WRITES_BACK_BOUND = 3000;

async function survivingRows(leader: Host): Promise<Set<string>> {
  const c = new pg.Client({ connectionString: adminUrl(leader), connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    const { rows } = await c.query<{ k: string }>(`SELECT u || '/' || seq AS k FROM ${TABLE}`);
    return new Set(rows.map((x) => x.k));
  } finally {
    await c.end();
  }
}

/** Writes on `host` through its unix socket, inside its namespace, until one is refused: the fence. */
function fenceProbe(host: Host, t0: number): { result: Promise<{ fencedAfterMillis: number | undefined; accepted: number }>; stop(): void } {
  let running = true;
  const result = (async () => {
    let accepted = 0;
    while (running) {
      try {
        // synchronous_commit local: in synchronous mode the probe sees when the old leader stops taking
        // writes at all (its commits would otherwise wait for the standby it cannot reach).
        await local(host, `SET synchronous_commit = local; INSERT INTO ha_fence (via) VALUES ('old-${host}')`, 1500);
        accepted++;
      } catch {
        return { fencedAfterMillis: performance.now() - t0, accepted };
      }
      await tick(50);
    }
    return { fencedAfterMillis: undefined, accepted };
  })();
  return { result, stop: () => (running = false) };
}

interface Failover {
  old: Host;
  next: Host;
  promotedAfterMillis: number;
  writesBackMillis: number;
}

function scenarios(sync: boolean): void {
  let r: Routed;
  let load: Workload;
  const mode = sync ? 'synchronous' : 'asynchronous';

  before(async () => {
    await patroni.up({ sync });
    r = await routed({ health: { failoverTimeoutMillis: FAILOVER_TIMEOUT } });
    await createTable(r.pool);
    await r.pool.query('CREATE TABLE IF NOT EXISTS ha_fence (id bigserial PRIMARY KEY, via text, t timestamptz DEFAULT clock_timestamp())');
    if (sync) await until(async () => (await patroni.members())?.some((m) => m.role === 'sync_standby'), 30_000, 'a synchronous standby');
    load = new Workload(r.cluster, r.pool, { users: 6, readers: 4, writeShare: 0.2, opBoundMillis: FAILOVER_TIMEOUT + 10_000, arrivalMillis: 100 });
    await until(() => load.firstWriteAfter(performance.now() - 1000) && load.readHosts(performance.now() - 1000).size >= 2, 15_000, 'load running');
  });

  after(async () => {
    await load?.stop(1000);
    await net.heal().catch(() => undefined);
    await r?.end();
    await patroni.down();
  });

  /** Breaks the leader with `fault`, waits for Patroni's new leader and dbrouter's first write there. */
  async function failover(fault: (leader: Host) => Promise<unknown>, repair: (old: Host) => Promise<unknown>, label: string): Promise<Failover> {
    const old = await waitFor(() => patroni.healthy(), 60_000, 'cluster healthy');
    const watch = watchLeader();
    const t0 = performance.now();
    await fault(old);
    let next: Host | undefined;
    await until(() => (next = watch.changes.at(-1)?.leader) !== undefined && next !== old, 60_000, 'Patroni elects a new leader', 50);
    const promotedAt = watch.changes.at(-1)!.at;
    await watch.stop();
    const first = await until(() => load.writes().some((o) => o.ok && o.host === next && o.start >= t0), FAILOVER_TIMEOUT, 'a write on the new leader');
    const firstWrite = load.writes().filter((o) => o.ok && o.host === next && o.start >= t0).sort((a, b) => a.at - b.at)[0]!;
    const result = { old, next: next!, promotedAfterMillis: promotedAt - t0, writesBackMillis: firstWrite.at - promotedAt };
    await until(() => r.health.status().primary === next, 5000, 'dbrouter follows');
    await repair(old);
    const rejoin = await until(async () => (await patroni.healthy()) === next, 90_000, `${old} rejoins as a replica`, 200);
    await until(() => r.cluster.nodeState(old) === 'up', 30_000, `dbrouter reads from ${old} again`);
    console.log(
      `patroni ${mode}, ${label}: ${old} → ${next}: Patroni's new leader visible ${result.promotedAfterMillis.toFixed(0)} ms after the fault; ` +
        `first dbrouter write acknowledged there ${result.writesBackMillis.toFixed(0)} ms after that (a negative number: before the REST poll saw it; ${first.toFixed(0)} ms after this test began waiting); ${old} back as a replica ${rejoin.toFixed(0)} ms after repair`,
    );
    return result;
  }

  // A crash loses nothing acknowledged in synchronous mode by construction, and dbrouter's path through
  // it is the asynchronous run's: synchronous mode runs the faults where an isolated leader lives on
  // (partition, etcd cut), which keeps the whole of test:ha within its time bound.
  if (!sync) test(`${mode}: the leader's host dies → Patroni fails over, dbrouter follows`, async () => {
    const t0 = performance.now();
    const f = await failover((l) => patroni.kill(l), (l) => patroni.start(l), 'host killed');
    assert.ok(f.writesBackMillis <= WRITES_BACK_BOUND, `writes back within ${WRITES_BACK_BOUND} ms of the promotion (${f.writesBackMillis.toFixed(0)} ms)`);
    assert.deepEqual(load.failedReads(t0).map((o) => o.code ?? o.error), [], 'no read failed');
  });

  test(`${mode}: the leader's host partitioned → Patroni fails over, the old leader fences itself, dbrouter follows`, async () => {
    const t0 = performance.now();
    let fence: ReturnType<typeof fenceProbe> | undefined;
    const f = await failover(
      async (l) => {
        await net.partition(l);
        fence = fenceProbe(l, performance.now());
      },
      async (l) => {
        fence!.stop();
        const probe = await fence!.result;
        // The probe's writes on the isolated leader: gone once it rewinds onto the new leader's history.
        await net.heal(l);
        await until(async () => (await patroni.healthy()) !== undefined, 90_000, 'rejoined', 200);
        const kept = Number((await local((await patroni.leader())!, `SELECT count(*) FROM ha_fence WHERE via = 'old-${l}'`)) || 0);
        console.log(`patroni ${mode}, partitioned leader ${l}: it refused writes ${probe.fencedAfterMillis?.toFixed(0) ?? 'never'} ms after the partition; it committed ${probe.accepted} local writes (synchronous_commit local) before that, ${kept} of them survived`);
      },
      'host partitioned',
    );
    assert.ok(f.writesBackMillis <= WRITES_BACK_BOUND, `writes back within ${WRITES_BACK_BOUND} ms of the promotion (${f.writesBackMillis.toFixed(0)} ms)`);
    assert.deepEqual(load.failedReads(t0).map((o) => o.code ?? o.error), [], 'no read failed');
  });

  if (!sync) {
    test('asynchronous: a planned switchover → dbrouter follows within the bound, no read fails', async () => {
      const t0 = performance.now();
      const f = await failover(
        (l) => patroni.ctl('switchover', '--leader', l, '--candidate', HOSTS.find((h) => h !== l)!, '--force'),
        () => Promise.resolve(),
        'switchover',
      );
      assert.ok(f.writesBackMillis <= WRITES_BACK_BOUND);
      assert.deepEqual(load.failedReads(t0).map((o) => o.code ?? o.error), [], 'no read failed');
    });

    test('asynchronous: a replica rebuilt (patronictl reinit) → out of reads while it is rebuilt, back after', async () => {
      const leader = await waitFor(() => patroni.healthy(), 60_000, 'cluster healthy');
      const victim = HOSTS.find((h) => h !== leader)!;
      const t0 = performance.now();
      await patroni.ctl('reinit', 'dbr', victim, '--force');
      const out = await until(() => r.cluster.nodeState(victim) !== 'up', 30_000, `${victim} out while rebuilt`, 10).catch(() => undefined);
      await until(async () => (await rest(victim, 'replica'))?.status === 200 && r.cluster.nodeState(victim) === 'up', 90_000, `${victim} rebuilt and back`, 200);
      const back = performance.now() - t0;
      await until(() => load.readHosts(performance.now() - 500).has(victim), 15_000, `reads on ${victim}`);
      console.log(`patroni asynchronous, replica ${victim} rebuilt: ${out === undefined ? 'never left reads' : `out of reads after ${out.toFixed(0)} ms`}, back in reads ${back.toFixed(0)} ms after reinit began; failed reads ${load.failedReads(t0).length}`);
      assert.deepEqual(load.failedReads(t0).map((o) => o.code ?? o.error), [], 'no read failed');
    });
  }

  test(`${mode}: the leader cut from etcd and its replicas but not from the app → what dbrouter can know`, async () => {
    // The case where an app keeps writing to an old leader: it still answers the app. Measured: when it
    // refuses writes (Patroni demotes it), when its own REST API stops saying leader (GET /leader), when
    // the other nodes' GET /cluster names another leader, and how many writes dbrouter got acknowledged
    // there after the cut.
    const old = await waitFor(() => patroni.healthy(), 60_000, 'cluster healthy');
    const others = HOSTS.filter((h) => h !== old);
    const t0 = performance.now();
    await net.partition(old, 'dcs');
    for (const h of others) await net.partition(old, h);
    const cut = performance.now();
    let leaderEndpointGone: number | undefined;
    let othersSeeNew: number | undefined;
    const fence = fenceProbe(old, cut);
    const watchers = (async () => {
      while (performance.now() - cut < 40_000 && (leaderEndpointGone === undefined || othersSeeNew === undefined)) {
        // 503 = Patroni says it is not the leader; no answer (its loop busy retrying etcd) says nothing.
        if (leaderEndpointGone === undefined && (await localRest(old, 'leader')) === 503) leaderEndpointGone = performance.now() - cut;
        const view = await patroni.leader(others[0]);
        if (othersSeeNew === undefined && view !== undefined && view !== old) othersSeeNew = performance.now() - cut;
        await tick(100);
      }
    })();
    await until(() => load.writes().some((o) => o.ok && o.host !== old && o.start > cut), FAILOVER_TIMEOUT + 20_000, 'writes on the new leader', 100);
    await watchers;
    fence.stop();
    const fenced = await fence.result;
    const ackedOnOld = load.writes().filter((o) => o.ok && o.host === old && o.start >= cut);
    const lastAckOnOld = Math.max(0, ...ackedOnOld.map((o) => o.start - cut));
    await net.heal(old);
    await until(async () => (await patroni.healthy()) !== undefined && r.cluster.nodeState(old) === 'up', 90_000, `${old} rejoins`, 200);
    const rows = await survivingRows((await patroni.leader())!);
    const lost = ackedOnOld.filter((o) => !rows.has(`${o.user}/${o.seq}`));
    console.log(
      `patroni ${mode}, leader ${old} cut from etcd and replicas, reachable by the app: dbrouter writes acknowledged there after the cut ${ackedOnOld.length} (the last began ${lastAckOnOld.toFixed(0)} ms after it), ` +
        `the old leader refused writes ${fenced.fencedAfterMillis?.toFixed(0) ?? 'never'} ms after the cut, ` +
        `lost ${lost.length}; its GET /leader answered 503 after ${leaderEndpointGone?.toFixed(0) ?? 'never'} ms; ` +
        `the other nodes' GET /cluster named a new leader after ${othersSeeNew?.toFixed(0) ?? 'never'} ms (fault at +${(cut - t0).toFixed(0)} ms)`,
    );
    if (sync) assert.equal(lost.length, 0, 'synchronous mode: no acknowledged write lost');
    // What a topology source could have told dbrouter: nothing before the old leader fences itself.
    assert.ok(fenced.fencedAfterMillis !== undefined && othersSeeNew !== undefined && fenced.fencedAfterMillis < othersSeeNew, 'the old leader fences itself before the other nodes name a new leader');
    if (leaderEndpointGone !== undefined) assert.ok(leaderEndpointGone >= fenced.fencedAfterMillis - 1500, 'its own GET /leader turns 503 no earlier than it stops taking writes');
    assert.deepEqual(load.failedReads(t0).map((o) => o.code ?? o.error), [], 'no read failed');
  });

  test(`${mode}: history over every fault`, async () => {
    await load.stop(5000);
    const leader = await waitFor(() => patroni.healthy(), 60_000, 'cluster healthy');
    const rows = await survivingRows(leader);
    const v: Verdict = verdict(load, rows);
    const outage = load.longestWriteGap();
    // Writes that provably never reached a server: dbrouter found no primary in time, or the pool had no
    // free connection twice (synchronous mode: the cut-off leader's commits wait for a standby it cannot
    // reach until Patroni demotes it, holding every connection of the pool meanwhile).
    const notSent = v.failedWrites.filter((o) => o.code === 'PRIMARY_UNAVAILABLE' || /^timeout exceeded when trying to connect/.test(o.error ?? ''));
    console.log(`patroni ${mode} history: ${summary(v)} (not sent ${notSent.length}); longest write outage ${outage.toFixed(0)} ms`);
    for (const o of v.staleOwnReads.slice(0, 10)) console.log(`  stale own read: user ${o.user} saw seq ${o.saw ?? 0} < ${o.seq} on ${o.host ?? '?'} at +${((o.start - (load.ops[0]?.start ?? 0)) / 1000).toFixed(2)} s into the load`);
    assert.deepEqual(v.failedReads.map((o) => o.code ?? o.error), [], '0 failed reads');
    assert.equal(v.staleOwnReads.length, 0, '0 stale own reads');
    if (sync) assert.equal(v.lost.length, 0, 'synchronous mode: 0 lost acknowledged writes');
    const unexpected = v.failedWrites.filter((o) => o.code !== 'WRITE_OUTCOME_UNKNOWN' && !notSent.includes(o));
    assert.deepEqual(unexpected.map((o) => o.code ?? o.error), [], 'writes fail only with a known outcome: WRITE_OUTCOME_UNKNOWN (in flight on a node that died) or not sent');
    assert.deepEqual(notSent.filter((o) => rows.has(`${o.user}/${o.seq}`)).map((o) => o.trace), [], 'a write reported as not sent is not in the data');
  });
}

describe('Patroni + etcd, asynchronous replication', { skip: haSkip }, () => scenarios(false));
describe('Patroni + etcd, synchronous mode', { skip: haSkip }, () => scenarios(true));
