/**
 * Read-your-writes under real replication lag: many simulated users who write and then read their
 * own data in later requests, and read others' data, on a local cluster whose replicas apply
 * changes with a fixed delay (default 200 ms). Four strategies run side by side, at the same time,
 * on the same cluster (so they meet the same lag), each with its own users and rows:
 *
 * - `dbrouter`: session consistency; each request is a unit of work carrying the user's token (as
 *   the middleware's cookie does).
 * - `pin_2s`, `pin_15s`: after a user's write, all their reads go to the primary for 2 s (Rails) or
 *   15 s (django-multidb-router), else to replicas.
 * - `none`: reads always on replicas (Drizzle `withReplicas`, Prisma's read-replicas extension).
 *
 * A stale read is counted by checking what was read against the user's own last write (the
 * version they wrote), never inferred. Then `cost`: on caught-up replicas, one unit of work (a
 * write, then reads) under session consistency vs `eventual`, in round trips and microseconds.
 *
 * @example
 *   npm run bench -- ryw                       # report
 *   npm run bench -- ryw --json                # last line: {"ryw":{"dbrouter":{"stale":0,"replica_share":0.7},...}}
 *   npm run bench -- ryw --engine mariadb      # MariaDB applies delays in whole seconds: 1 s
 *   DBROUTER_BENCH_SECONDS=20 DBROUTER_BENCH_USERS=20 DBROUTER_BENCH_WRITE_SHARE=0.01 DBROUTER_BENCH_THINK_MS=20 npm run bench -- ryw --delay 500
 *
 * Each user waits `DBROUTER_BENCH_THINK_MS` (100) between requests; 15 % of requests write
 * (`DBROUTER_BENCH_WRITE_SHARE`). When a user writes more often than the replicas' lag, no correct
 * strategy can serve their own reads from replicas: the share measures what is left.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCluster, type Cluster } from '../src/index.js';
import { createPgPool } from '../src/engines/postgres/index.js';
import { createMysqlPool } from '../src/engines/mysql/index.js';
import { startCluster, type LocalCluster } from '../src/local/index.js';

type Strategy = 'dbrouter' | 'pin_2s' | 'pin_15s' | 'none';
const STRATEGIES: readonly Strategy[] = ['dbrouter', 'pin_2s', 'pin_15s', 'none'];
const SECRET = 'bench-secret-of-at-least-16-bytes';

interface Result {
  stale: number;
  own_reads: number;
  reads: number;
  replica_reads: number;
  replica_share: number;
  requests: number;
}

interface Db {
  cluster: Cluster;
  q(sql: string, values?: readonly unknown[]): Promise<Record<string, unknown>[]>;
  end(): Promise<void>;
}

function open(local: LocalCluster, consistency: 'session' | 'eventual'): Db {
  const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role }]));
  const cluster = createCluster({ databases, consistency: { level: consistency, secret: SECRET } });
  if (local.engine === 'postgres') {
    const pool = createPgPool(cluster);
    return {
      cluster,
      q: async (sql, values = []) => {
        let n = 0;
        return (await pool.query(sql.replace(/\?/g, () => `$${++n}`), [...values])).rows;
      },
      end: () => pool.end(),
    };
  }
  const pool = createMysqlPool(cluster);
  return { cluster, q: async (sql, values = []) => (await pool.query(sql, [...values]))[0] as Record<string, unknown>[], end: () => pool.end() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runStrategy(strategy: Strategy, db: Db, users: number, seconds: number, base: number, writeShare: number, thinkMillis: number): Promise<Result> {
  const r = { stale: 0, own_reads: 0, requests: 0 };
  const deadline = Date.now() + seconds * 1000;
  const pinMillis = strategy === 'pin_2s' ? 2000 : strategy === 'pin_15s' ? 15000 : 0;
  const { cluster } = db;
  const readOwn = async (user: number) => {
    const rows = await db.q('SELECT max(version) AS v FROM ryw_bench WHERE user_id = ?', [user]);
    return Number(rows[0]?.v ?? 0);
  };
  const readOthers = (user: number) => db.q('SELECT count(*) AS n, max(version) AS v FROM ryw_bench WHERE user_id = ?', [base + ((user - base + 1) % users)]);
  const one = async (user: number) => {
    let written = 0;
    let token: string | undefined;
    let pinnedUntil = 0;
    while (Date.now() < deadline) {
      r.requests++;
      const write = Math.random() < writeShare;
      const ownRead = write || Math.random() < 0.5;
      const request = async () => {
        if (write) {
          written++;
          await db.q('INSERT INTO ryw_bench (user_id, version) VALUES (?, ?)', [user, written]);
          pinnedUntil = Date.now() + pinMillis;
          return;
        }
        const pinned = Date.now() < pinnedUntil;
        const read = () => (ownRead ? readOwn(user) : readOthers(user));
        const seen = await (pinned ? cluster.primary(read) : read());
        if (ownRead) {
          r.own_reads++;
          if ((seen as number) < written) r.stale++;
        }
      };
      if (strategy === 'dbrouter') {
        // One request = one unit of work; the token travels to the next, as the cookie does.
        token = await cluster.withToken(token, async () => {
          await request();
          return write ? await cluster.consistencyToken() : token;
        });
      } else {
        await request();
      }
      await sleep(thinkMillis);
    }
  };
  await Promise.all(Array.from({ length: users }, (_, i) => one(base + i)));
  const stats = cluster.stats();
  let reads = 0;
  let replicaReads = 0;
  for (const d of cluster.describe()) {
    const a = stats.byAlias[d.alias]!;
    const n = a.statements - a.writes;
    reads += n;
    if (d.role === 'replica') replicaReads += n;
  }
  return { ...r, reads, replica_reads: replicaReads, replica_share: reads === 0 ? 0 : replicaReads / reads };
}

/**
 * One unit of work (a write, then `reads` reads of it), at `eventual` and at `session`, the two
 * alternating unit by unit so both meet the same machine load; medians in µs, and the session
 * side's round trips for consistency per unit.
 */
async function cost(local: LocalCluster, units: number, reads: number): Promise<{ eventual: number; session: number; captures: number; probes: number }> {
  const dbs = { eventual: open(local, 'eventual'), session: open(local, 'session') };
  const times = { eventual: [] as number[], session: [] as number[] };
  const unit = async (db: Db, i: number) => {
    const t0 = performance.now();
    await db.cluster.withToken(undefined, async () => {
      await db.q('INSERT INTO ryw_bench (user_id, version) VALUES (?, ?)', [-1, i]);
      for (let k = 0; k < reads; k++) await db.q('SELECT max(version) AS v FROM ryw_bench WHERE user_id = ?', [-1]);
    });
    return performance.now() - t0;
  };
  try {
    for (let i = 0; i < units; i++) {
      for (const level of i % 2 === 0 ? (['eventual', 'session'] as const) : (['session', 'eventual'] as const)) times[level].push(await unit(dbs[level], i));
    }
    const s = dbs.session.cluster.consistencyStats();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    return { eventual: Math.round(median(times.eventual) * 1000), session: Math.round(median(times.session) * 1000), captures: s.captures / units, probes: s.probes / units };
  } finally {
    await Promise.all([dbs.eventual.end(), dbs.session.end()]);
  }
}

export async function main(args: readonly string[]): Promise<void> {
  const json = args.includes('--json');
  const engine = args.includes('--engine') ? (args[args.indexOf('--engine') + 1] as 'postgres' | 'mariadb') : 'postgres';
  const delayArg = args.includes('--delay') ? Number(args[args.indexOf('--delay') + 1]) : 200;
  const delay = engine === 'mariadb' ? Math.max(1000, Math.ceil(delayArg / 1000) * 1000) : delayArg;
  const seconds = Number(process.env.DBROUTER_BENCH_SECONDS ?? 10);
  const users = Number(process.env.DBROUTER_BENCH_USERS ?? 10);
  const writeShare = Number(process.env.DBROUTER_BENCH_WRITE_SHARE ?? 0.15);
  const thinkMillis = Number(process.env.DBROUTER_BENCH_THINK_MS ?? 100);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const local = await startCluster({ engine, replicas: 2, dir: path.join(mkdtempSync(path.join(tmpdir(), 'dbrouter-bench-ryw-')), 'cluster') });
  const dbs: Db[] = [];
  try {
    const admin = open(local, 'eventual');
    dbs.push(admin);
    await admin.q('DROP TABLE IF EXISTS ryw_bench');
    await admin.q(`CREATE TABLE ryw_bench (id ${engine === 'postgres' ? 'bigserial' : 'bigint AUTO_INCREMENT'} PRIMARY KEY, user_id int NOT NULL, version int NOT NULL)`);
    await admin.q('CREATE INDEX ryw_bench_user ON ryw_bench (user_id, version)');
    await local.waitForAllReplicas();

    log(`# cost of session consistency per unit of work (1 write + 5 reads), caught-up replicas, ${engine}`);
    const units = Number(process.env.DBROUTER_BENCH_UNITS ?? 200);
    const c = await cost(local, units, 5);
    log(`eventual: ${c.eventual} µs per unit; session: ${c.session} µs per unit (+${c.session - c.eventual} µs), ${c.captures.toFixed(2)} position captures and ${c.probes.toFixed(2)} replica probes per unit`);

    for (const r of local.replicaAliases) await local.setDelay(r, delay);
    log(`# read-your-writes: ${users} users per strategy, ${seconds} s, ${writeShare * 100} % of requests write, ${thinkMillis} ms between a user's requests, replica apply delay ${delay} ms, ${engine}`);
    const results: Partial<Record<Strategy, Result>> = {};
    await Promise.all(STRATEGIES.map(async (s, i) => {
      const db = open(local, s === 'dbrouter' ? 'session' : 'eventual');
      dbs.push(db);
      results[s] = await runStrategy(s, db, users, seconds, (i + 1) * 1000, writeShare, thinkMillis);
    }));
    for (const s of STRATEGIES) {
      const r = results[s]!;
      log(`${s.padEnd(9)} stale own reads ${String(r.stale).padStart(5)} / ${String(r.own_reads).padEnd(6)} reads on replicas ${(r.replica_share * 100).toFixed(1).padStart(5)} % (${r.replica_reads}/${r.reads})`);
    }
    const dbr = dbs[1]!.cluster.consistencyStats();
    log(`dbrouter round trips for consistency: ${dbr.captures} position captures, ${dbr.probes} replica probes over ${results.dbrouter!.requests} requests`);
    for (const r of local.replicaAliases) await local.setDelay(r, 0);
    const out = Object.fromEntries(STRATEGIES.map((s) => [s, { stale: results[s]!.stale, replica_share: Number(results[s]!.replica_share.toFixed(4)) }]));
    if (json) process.stdout.write(`${JSON.stringify({ ryw: out })}\n`);
  } finally {
    await Promise.all(dbs.map((d) => d.end()));
    await local.down();
  }
}
