// Issue 9 items 6 and 11 on a real PostgreSQL cluster of this file's own (it delays, kills and
// promotes nodes): lag is the age of what a replica misses, not the time since its last replayed
// commit; a wrong password says so; a configured replica that is primary is noted; a paused and
// killed replica rejoins; a former primary holding WAL the new primary lacks is rebuilt.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, ownCluster } from '../harness/clusters.js';
import { createCluster } from '../../src/index.js';
import { checkCluster } from '../../src/cli/status.js';

const skip = await engineSkip('postgres');

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMillis = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMillis} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function sql<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
}

describe('replication health on a real postgres cluster', { skip }, () => {
  let local: LocalCluster;
  const url = (alias: string) => local.databases[alias]!.url;
  const config = () => ({ databases: Object.fromEntries(['default', 'replica1', 'replica2'].map((a) => [a, { url: url(a), role: a === 'default' ? 'primary' as const : 'replica' as const }])) });
  before(async () => {
    local = await ownCluster('postgres', { replicas: 2 });
    await sql(url('default'), 'CREATE TABLE rh_items (id text PRIMARY KEY)');
    await local.waitForAllReplicas();
  });
  after(async () => {
    await local?.down();
  });

  test('issue 9.6: a quiet primary and a replica applying 3 s late: lag ≈ 3 s, not the time since its last replayed commit; 0 once applied', async () => {
    await local.setDelay('replica1', 3000);
    try {
      await sql(url('default'), "INSERT INTO rh_items VALUES ('q1')");
      await local.waitForAllReplicas(10_000);
      // Quiet: the replica's last replayed commit grows old (the old measure reported this age).
      await until('last replayed commit 6 s old', async () => {
        const [r] = await sql<{ age: number }>(url('replica1'), 'SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS age');
        return (r?.age ?? 0) >= 6;
      });
      await sql(url('default'), "INSERT INTO rh_items VALUES ('q2')");
      const report = await checkCluster(config(), { maxLagMillis: 10_000, timeoutMillis: 2000 });
      const r1 = report.nodes.find((n) => n.alias === 'replica1')!;
      assert.equal(report.healthy, true, JSON.stringify(report.degraded));
      assert.ok(r1.lagMillis !== undefined && r1.lagMillis >= 1500 && r1.lagMillis <= 4500, `lag ${r1.lagMillis} ms ≈ the 3 s apply delay (the old measure said ≥ 6 s)`);
      const [seen] = await sql<{ n: string }>(url('replica1'), "SELECT count(*)::text AS n FROM rh_items WHERE id = 'q2'");
      assert.equal(seen?.n, '1', 'status watched until the replica had the write');
      const after = await checkCluster(config(), { maxLagMillis: 10_000, timeoutMillis: 2000 });
      assert.equal(after.healthy, true);
      for (const n of after.nodes) assert.equal(n.lagMillis, 0, `${n.alias}: has everything the primary has`);
    } finally {
      await local.setDelay('replica1', 0);
    }
  });

  test('issue 9.6: a wrong password is reported as a wrong password (28P01)', async () => {
    // Local clusters trust loopback: require a password for one role on replica2.
    const state = JSON.parse(readFileSync(path.join(local.dir, 'state.json'), 'utf8')) as { nodes: Array<{ alias: string; dataDir: string }> };
    const hba = path.join(state.nodes.find((n) => n.alias === 'replica2')!.dataDir, 'pg_hba.conf');
    const original = readFileSync(hba, 'utf8');
    await sql(url('default'), "CREATE ROLE rh_pw LOGIN PASSWORD 'right-one'");
    await local.waitForAllReplicas();
    writeFileSync(hba, `host all rh_pw 127.0.0.1/32 scram-sha-256\n${original}`);
    try {
      await sql(url('replica2'), 'SELECT pg_reload_conf()');
      const bad = url('replica2').replace('postgres@', 'rh_pw:Wr0ngPass@');
      const report = await checkCluster({ databases: { default: { url: url('default'), role: 'primary' }, replica2: { url: bad, role: 'replica' } } }, { maxLagMillis: 5000, timeoutMillis: 2000 });
      assert.match(report.nodes.find((n) => n.alias === 'replica2')!.error ?? '', /wrong password \(PostgreSQL 28P01\)/);
      assert.doesNotMatch(JSON.stringify(report), /Wr0ngPass/);
      const cluster = createCluster({ databases: { default: url('default'), replica2: bad } });
      try {
        await assert.rejects(cluster.ready(), (e: Error) => /wrong password/.test(e.message) && !/Start it/.test(e.message));
      } finally {
        await cluster.end();
      }
    } finally {
      writeFileSync(hba, original);
      appendFileSync(hba, '');
      await sql(url('replica2'), 'SELECT pg_reload_conf()');
    }
  });

  test('issue 9.11: a paused and killed replica rejoins; a former primary holding WAL the new one lacks is rebuilt; a configured replica now primary is noted', async () => {
    await local.pause('replica2');
    await local.kill('replica2');
    await local.start('replica2');
    await sql(url('default'), "INSERT INTO rh_items VALUES ('after-restart')");
    await local.waitForReplay('replica2', await local.primaryPosition(), 10_000);
    // replica1 stops receiving (its upstream points nowhere); the primary then writes what only it has.
    await sql(url('replica1'), "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 user=postgres'");
    await sql(url('replica1'), 'SELECT pg_reload_conf()');
    await until('replica1 stopped receiving', async () => (await sql(url('replica1'), 'SELECT 1 FROM pg_stat_wal_receiver')).length === 0);
    await sql(url('default'), "INSERT INTO rh_items VALUES ('only-on-old-primary')");
    await local.kill('default');
    await local.promote('replica1');
    const report = await checkCluster(config(), { maxLagMillis: 5000, timeoutMillis: 1000 });
    assert.match(report.nodes.find((n) => n.alias === 'replica1')!.problems.join('\n'), /configured as a replica but reports being the primary/);
    const t0 = Date.now();
    await local.start('default');
    await sql(url('replica1'), "INSERT INTO rh_items VALUES ('on-new-primary')");
    await local.waitForReplay('default', await local.primaryPosition(), 10_000);
    console.log(`# former primary rejoined in ${Date.now() - t0} ms`);
    const ids = (await sql<{ id: string }>(url('default'), 'SELECT id FROM rh_items ORDER BY id')).map((r) => r.id);
    assert.ok(ids.includes('on-new-primary'));
    assert.ok(!ids.includes('only-on-old-primary'), 'the old primary now holds the new primary\'s history');
  });
});
