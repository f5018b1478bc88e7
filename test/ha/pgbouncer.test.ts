// PgBouncer (Debian's 1.18) in front of each node, in session and in transaction pooling; dbrouter
// talks only to the three PgBouncers (port 6432). PgBouncer reaches its PostgreSQL through the host's
// own address, so `inet_server_addr()` still names the host that ran a statement.
// Then what transaction pooling forbids, each shown against session pooling: session SETs, PREPARE by
// name, protocol-level named statements (node-postgres `{ name }`), advisory locks across statements,
// LISTEN. In transaction pooling default_pool_size is 2, and PgBouncer hands out server connections
// last-in first-out, so which server connection a client gets next is deterministic (these clients log in
// as another user than dbrouter's, so they have a pool of their own).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { adminUrl, haSkip, HOSTS, ip, patroni, run, until, waitFor, type Host } from './topology.js';
import { routed, type Routed } from './routed.js';
import { createTable, summary, TABLE, verdict, Workload } from './workload.js';

const PORT = 6432;
// Session pooling gives each client connection a server connection for as long as it stays open, so
// the pool must hold every client of every app (dbrouter's pool.max per node + its monitor): 30 here.
// Transaction pooling shares 2 among them all.
const POOL_SIZE = { session: '30', transaction: '2' } as const;
const bouncers = (mode: 'session' | 'transaction') => Promise.all(HOSTS.map((h) => run('pgbouncer_up.sh', [h, mode], { env: { PGB_POOL_SIZE: POOL_SIZE[mode] } })));
const bouncersDown = () => run('pgbouncer_down.sh');

describe('PgBouncer in front of each node', { skip: haSkip }, () => {
  let leader: Host;
  let replicas: Host[];

  before(async () => {
    await patroni.up();
    leader = await waitFor(() => patroni.healthy(), 60_000, 'healthy');
    replicas = HOSTS.filter((h) => h !== leader);
  });
  after(async () => {
    await bouncersDown().catch(() => undefined);
    await patroni.down();
  });

  for (const mode of ['session', 'transaction'] as const) {
    describe(`${mode} pooling`, () => {
      let r: Routed;
      const client = async () => {
        // Another user than dbrouter's: PgBouncer keeps a pool per database and user, so the monitor's
        // checks and the routed pool never take these server connections and the order stays known.
        const c = new pg.Client({ host: ip(leader), port: PORT, user: 'postgres', password: 'postgres', database: 'app', connectionTimeoutMillis: 3000 });
        c.on('error', () => undefined);
        await c.connect();
        return c;
      };
      /** Keeps one of the two server connections busy for `millis`, so the next client gets the other one. */
      const busy = async (millis: number): Promise<{ done: Promise<unknown> }> => {
        const c = await client();
        const done = c.query(`SELECT pg_sleep(${millis / 1000}) AS ha_busy`).finally(() => c.end());
        // Busy once PostgreSQL runs it (asked directly, not through PgBouncer).
        const admin = new pg.Client({ connectionString: adminUrl(leader), connectionTimeoutMillis: 3000 });
        await admin.connect();
        try {
          await until(async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%AS ha_busy'")).rowCount === 1, 3000, 'the busy statement running');
        } finally {
          await admin.end();
        }
        return { done };
      };

      before(async () => {
        await bouncers(mode);
        r = await routed({ port: PORT, health: { failoverTimeoutMillis: 10_000 } });
        await createTable(r.pool);
      });
      after(async () => {
        await r?.end();
        await bouncersDown();
      });

      test(`${mode}: routing, read-your-writes and health through PgBouncer`, async () => {
        const status = r.health.status();
        assert.equal(status.primary, leader, 'the role comes through PgBouncer (pg_is_in_recovery)');
        assert.deepEqual([...status.readableReplicas].sort(), [...replicas].sort());
        const load = new Workload(r.cluster, r.pool, { users: 6, readers: 2, writeShare: 0.3, opBoundMillis: 15_000, firstUser: mode === 'session' ? 0 : 100 });
        await until(() => load.readHosts(performance.now() - 1000).size >= 2 && load.writes().filter((o) => o.ok).length > 20, 15_000, 'load on both replicas');
        // A replica's PostgreSQL stops behind its PgBouncer (which still accepts connections). Once, in
        // session mode: what the monitor sees through PgBouncer does not depend on its pooling mode, and
        // a stop and start costs 20-40 s of the whole run's time bound.
        const victim = replicas[0]!;
        const t0 = performance.now();
        let out = NaN;
        let back = NaN;
        if (mode === 'session') {
          await patroni.stop(victim);
          out = await until(() => r.cluster.nodeState(victim) === 'down', 10_000, `${victim} down behind PgBouncer`);
          const outAt = performance.now();
          await until(() => load.reads(outAt).length > 50, 10_000, 'reads go on');
          assert.ok(!load.readHosts(outAt).has(victim));
          await patroni.start(victim);
          back = await until(() => r.cluster.nodeState(victim) === 'up' && load.readHosts(performance.now() - 300).has(victim), 60_000, `${victim} back`, 100);
        } else {
          const since = performance.now();
          await until(() => load.reads(since).length > 300 && load.writes(since).filter((o) => o.ok).length > 50, 30_000, 'reads and writes through PgBouncer');
        }
        await load.stop(3000);
        const rows = new Set((await r.pool.query<{ k: string }>(`SELECT u || '/' || seq AS k FROM ${TABLE}`)).rows.map((x) => x.k));
        const v = verdict(load, rows);
        const writes = load.writes().filter((o) => o.ok);
        const stopped = mode === 'session' ? `${victim}'s PostgreSQL stopped → down after ${out.toFixed(0)} ms, back ${back.toFixed(0)} ms after start; ` : '';
        console.log(`pgbouncer ${mode}: ${summary(v)}; ${stopped}reads on ${[...load.readHosts(0)].join(',')}`);
        assert.ok(writes.every((o) => o.host === leader), 'every write on the primary');
        assert.ok(load.reads().filter((o) => o.ok && o.user < (mode === 'session' ? 6 : 106)).length > 0);
        assert.equal(v.staleOwnReads.length, 0, 'no stale own read');
        assert.equal(v.lost.length, 0);
        assert.deepEqual(load.failedReads(t0).map((o) => o.code ?? o.error), [], 'no read failed while a replica stopped behind PgBouncer');
      });

      test(`${mode}: a session SET ${mode === 'transaction' ? 'leaks to other clients and is lost by its own' : 'stays in its session'}`, async () => {
        const a = await client();
        await a.query("SET statement_timeout = '4321ms'");
        const b = await client();
        const seenByB = (await b.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]!.statement_timeout;
        await b.end();
        const hold = await busy(1000);
        const seenByA = (await a.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]!.statement_timeout;
        await hold.done;
        await a.query('RESET statement_timeout');
        await a.end();
        if (mode === 'session') assert.deepEqual([seenByB, seenByA], ['0', '4321ms']);
        else assert.deepEqual([seenByB, seenByA], ['4321ms', '0'], "B runs on A's server connection; A is on another one");
      });

      test(`${mode}: PREPARE by name ${mode === 'transaction' ? 'is visible to other clients and lost by its own' : 'stays in its session'}`, async () => {
        const a = await client();
        await a.query("PREPARE ha_q AS SELECT 'from A' AS v");
        const b = await client();
        const byB = await b.query('EXECUTE ha_q').then(() => 'ran', (e: { code?: string }) => e.code);
        await b.end();
        const hold = await busy(1000);
        const byA = await a.query('EXECUTE ha_q').then(() => 'ran', (e: { code?: string }) => e.code);
        await hold.done;
        await a.query('DEALLOCATE ALL').catch(() => undefined);
        await a.end();
        if (mode === 'session') assert.deepEqual([byB, byA], ['26000', 'ran']);
        else assert.deepEqual([byB, byA], ['ran', '26000']);
      });

      test(`${mode}: node-postgres named statements ({ name }) ${mode === 'transaction' ? 'collide' : 'work'}`, async () => {
        const q = (who: string) => ({ name: 'ha_named', text: 'SELECT $1::text AS who', values: [who] });
        const a = await client();
        const b = await client();
        const first = await a.query(q('A')).then(() => 'ok', (e: { code?: string }) => e.code);
        const second = await b.query(q('B')).then(() => 'ok', (e: { code?: string }) => e.code);
        await b.end();
        const hold = await busy(1000);
        const again = await a.query(q('A')).then(() => 'ok', (e: { code?: string }) => e.code);
        await hold.done;
        await a.end();
        if (mode === 'session') assert.deepEqual([first, second, again], ['ok', 'ok', 'ok']);
        else assert.deepEqual([first, second, again], ['ok', '42P05', '26000'], 'B: already exists (same server connection); A: does not exist (another one)');
        // The same through dbrouter: concurrent named statements from several units of work.
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, i) => r.pool.query({ name: 'ha_named_r', text: '/* dbrouter:strong */ SELECT $1::int AS v', values: [i] }).then(() => 'ok', (e: { code?: string }) => e.code ?? 'error')),
        );
        const errors = results.filter((x) => x !== 'ok');
        const unnamed = await Promise.all(Array.from({ length: 30 }, (_, i) => r.pool.query('/* dbrouter:strong */ SELECT $1::int AS v', [i]).then(() => 'ok', (e: { code?: string }) => e.code ?? 'error')));
        console.log(`pgbouncer ${mode}: 30 concurrent named statements through dbrouter: ${errors.length} failed (${[...new Set(errors)].join(', ')}); 30 unnamed: ${unnamed.filter((x) => x !== 'ok').length} failed`);
        assert.deepEqual(unnamed.filter((x) => x !== 'ok'), [], 'unnamed parameterized statements work in both modes');
        if (mode === 'session') assert.deepEqual(errors, []);
        else assert.ok(errors.length > 0 && errors.every((c) => c === '42P05' || c === '26000'), 'named statements fail under transaction pooling');
      });

      test(`${mode}: an advisory lock ${mode === 'transaction' ? 'is held by whoever gets the server connection' : 'belongs to its session'}`, async () => {
        const a = await client();
        await a.query('SELECT pg_advisory_lock(4242)');
        const b = await client();
        const bGot = (await b.query<{ got: boolean }>('SELECT pg_try_advisory_lock(4242) AS got')).rows[0]!.got;
        if (bGot) await b.query('SELECT pg_advisory_unlock(4242)');
        await b.end();
        const hold = await busy(1000);
        const aUnlocked = (await a.query<{ ok: boolean }>('SELECT pg_advisory_unlock(4242) AS ok')).rows[0]!.ok;
        await hold.done;
        await a.query('SELECT pg_advisory_unlock_all()');
        await a.end();
        if (mode === 'session') assert.deepEqual([bGot, aUnlocked], [false, true]);
        else assert.deepEqual([bGot, aUnlocked], [true, false], "B gets A's lock (same server connection); A cannot release it from another");
      });

      test(`${mode}: LISTEN ${mode === 'transaction' ? 'receives nothing' : 'receives notifications'}`, async () => {
        const a = await client();
        const got: string[] = [];
        a.on('notification', (n) => got.push(n.payload ?? ''));
        await a.query('LISTEN ha_channel');
        const b = await client();
        await b.query("NOTIFY ha_channel, 'hello'");
        await b.end();
        // Session pooling: the notification arrives; transaction pooling: give it the same time, then check it did not.
        const arrived = await until(() => got.length > 0, 2000, 'notification').then(() => true, () => false);
        await a.query('UNLISTEN *');
        await a.end();
        assert.equal(arrived, mode === 'session');
      });
    });
  }
});
