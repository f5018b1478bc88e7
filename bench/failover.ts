/**
 * `npm run bench -- failover [--engine postgres|mariadb] [--scenario kill|late] [--json]`: a steady
 * mixed load (reads and writes from concurrent workers) through dbrouter's routed pool with the
 * health monitor on a real local cluster; the primary is killed and the replica that received the
 * most of its history (asked of each replica by position) is promoted. Two scenarios, each on a
 * fresh cluster (both by default):
 *
 * - `kill`: replicas keep up; the primary dies.
 * - `late`: every replica applies 2 s late (PostgreSQL `recovery_min_apply_delay`, MariaDB
 *   `MASTER_DELAY`) when the primary dies, so reads that must see a user's own write have no replica
 *   to go to: they must wait for the new primary rather than fail (target: 0 failed reads).
 *
 * Measures the time from the promotion completing (and from the kill) to the first acknowledged
 * write, failed reads and writes over the whole run, stale own reads (a read that misses the
 * worker's own acknowledged write still on the final primary) and acknowledged writes the final
 * primary lacks. With `--json` the last line is
 * `{"failover":{"write_gap_ms":N,"failed_reads":N,"failed_writes":N,"stale_own_reads":N,"lost_writes":N,"late_replicas":{…the same keys…}}}`
 * (the top-level keys are the `kill` scenario's).
 */
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCluster } from '../src/index.js';
import { createPgPool } from '../src/engines/postgres/index.js';
import { createMysqlPool } from '../src/engines/mysql/index.js';
import { watchCluster } from '../src/health/cluster-health.js';
import { destroyClusterSync, startCluster, type Engine, type LocalCluster } from '../src/local/index.js';
import { mostAdvancedReplica } from '../test/harness/chaos-positions.js';

const WORKERS = 8;
const WRITE_SHARE = 0.2;
const WARM_UP_MILLIS = 1000;
const AFTER_MILLIS = 1000;
/** How late every replica applies in the `late` scenario. */
const LATE_MILLIS = 2000;
// Each worker is one user and each operation one request: a unit of work of its own, under the
// default `session` level, carrying the user's consistency token from request to request as the
// HTTP middleware's cookie would. So reads after a user's own write must see it, failover or not.
const SECRET = 'bench-failover-secret-0123456789';

type Scenario = 'kill' | 'late';

interface Db {
  /** The highest `v` worker `w` wrote, as the serving node sees it. */
  readOwn(w: number): Promise<number | null>;
  write(w: number, v: number): Promise<unknown>;
  end(): Promise<void>;
}

interface Result {
  write_gap_ms: number;
  write_gap_from_kill_ms: number;
  failed_reads: number;
  failed_writes: number;
  stale_own_reads: number;
  lost_writes: number;
}

export async function main(args: readonly string[]): Promise<void> {
  const json = args.includes('--json');
  const engineArg = args[args.indexOf('--engine') + 1];
  const engine: Engine = args.includes('--engine') && engineArg === 'mariadb' ? 'mariadb' : 'postgres';
  const scenarioArg = args.includes('--scenario') ? args[args.indexOf('--scenario') + 1] : undefined;
  if (scenarioArg !== undefined && scenarioArg !== 'kill' && scenarioArg !== 'late') {
    throw new Error(`--scenario ${scenarioArg}: use kill or late`);
  }
  const scenarios: Scenario[] = scenarioArg === undefined ? ['kill', 'late'] : [scenarioArg];
  const results = new Map<Scenario, Result>();
  for (const scenario of scenarios) results.set(scenario, await run(engine, scenario, json));
  if (json) {
    const kill = results.get('kill');
    const late = results.get('late');
    console.log(JSON.stringify({ failover: { ...(kill ?? {}), ...(late ? { late_replicas: late } : {}) } }));
  }
}

async function run(engine: Engine, scenario: Scenario, json: boolean): Promise<Result> {
  const dir = path.join(tmpdir(), `dbrouter-bench-failover-${process.pid}-${scenario}`);
  const cleanup = () => destroyClusterSync(dir);
  process.once('exit', cleanup);
  const local = await startCluster({ engine, replicas: 2, dir });
  const cluster = createCluster({
    databases: Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role }])),
    consistency: { level: 'session', secret: SECRET },
  });
  const health = watchCluster(cluster, { checkIntervalMillis: 250, checkTimeoutMillis: 500, failoverTimeoutMillis: 10_000 });
  health.on('error', () => undefined);
  let db: Db | undefined;
  try {
    await health.start();
    db = engine === 'postgres' ? await pgDb(cluster) : await mysqlDb(cluster);
    await local.waitForAllReplicas();
    const counts = { reads: 0, writes: 0, failedReads: 0, failedWrites: 0 };
    const okWrites: number[] = [];
    const acked: number[][] = Array.from({ length: WORKERS }, () => []);
    const reads: { w: number; seen: number | null; ackedBefore: number[] }[] = [];
    const errors = new Map<string, number>();
    let running = true;
    let n = 0;
    const worker = async (w: number) => {
      let token: string | undefined;
      while (running) {
        const write = Math.random() < WRITE_SHARE;
        const v = ++n;
        const ackedBefore = [...acked[w]!];
        try {
          const seen = await cluster.withToken(token, async () => {
            if (write) {
              await db!.write(w, v);
              try {
                token = (await cluster.consistencyToken()) ?? token;
              } catch (e) {
                throw new Error(`token: ${(e as Error).message}`, { cause: e });
              }
              acked[w]!.push(v);
              return null;
            }
            return db!.readOwn(w);
          });
          if (write) {
            counts.writes++;
            okWrites.push(performance.now());
          } else {
            counts.reads++;
            reads.push({ w, seen, ackedBefore });
          }
        } catch (e) {
          if (write) counts.failedWrites++;
          else counts.failedReads++;
          const key = `${write ? 'write' : 'read'}: ${(e as Error).message.split('\n')[0]}`;
          errors.set(key, (errors.get(key) ?? 0) + 1);
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, WARM_UP_MILLIS));
    if (scenario === 'late') {
      for (const alias of local.replicaAliases) await local.setDelay(alias, LATE_MILLIS);
      // Let the load run long enough that every replica is a full delay behind when the primary dies.
      await new Promise((r) => setTimeout(r, LATE_MILLIS + 500));
    }
    const killedAt = performance.now();
    await local.kill('default');
    const { alias: target } = await mostAdvancedReplica(local);
    await local.promote(target);
    const promotedAt = performance.now();
    const deadline = promotedAt + 15_000;
    while (!okWrites.some((t) => t > promotedAt) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, AFTER_MILLIS));
    running = false;
    await Promise.all(workers);
    const present = await idsOnPrimary(local);
    const lost = acked.flat().filter((v) => !present.has(v)).length;
    const stale = reads.filter((r) => {
      const required = [...r.ackedBefore].reverse().find((v) => present.has(v));
      return required !== undefined && (r.seen === null || r.seen < required);
    }).length;
    const first = okWrites.find((t) => t > promotedAt);
    const result: Result = {
      write_gap_ms: first === undefined ? -1 : Math.round(first - promotedAt),
      write_gap_from_kill_ms: first === undefined ? -1 : Math.round(first - killedAt),
      failed_reads: counts.failedReads,
      failed_writes: counts.failedWrites,
      stale_own_reads: stale,
      lost_writes: lost,
    };
    if (!json) {
      const what = scenario === 'late' ? `every replica ${LATE_MILLIS} ms late when the primary dies` : 'replicas keeping up';
      console.log(`failover bench (${engine}, ${what}; ${WORKERS} workers, ${WRITE_SHARE * 100}% writes)`);
      console.log(`  kill + promote ${target} took ${Math.round(promotedAt - killedAt)} ms`);
      console.log(`  reads ok ${counts.reads}, failed ${counts.failedReads} (target 0); writes ok ${counts.writes}, failed ${counts.failedWrites}`);
      console.log(`  stale own reads ${stale} (target 0); acknowledged writes the new primary lacks ${lost}`);
      console.log(`  first write ${result.write_gap_ms} ms after the promotion completed (target <= 1000, aim 300), ${result.write_gap_from_kill_ms} ms after the kill`);
      for (const [what, count] of errors) console.log(`  ${count} × ${what}`);
    }
    return result;
  } finally {
    await db?.end();
    await health.stop();
    await cluster.end();
    await local.down();
    process.off('exit', cleanup);
  }
}

async function idsOnPrimary(local: LocalCluster): Promise<Set<number>> {
  const url = local.databases[local.primaryAlias]!.url;
  if (local.engine === 'postgres') {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return new Set((await client.query<{ v: number }>('SELECT v FROM bench_failover')).rows.map((r) => Number(r.v)));
    } finally {
      await client.end();
    }
  }
  const { default: mysql } = await import('mysql2/promise');
  const conn = await mysql.createConnection({ uri: url });
  try {
    const [rows] = await conn.query('SELECT v FROM bench_failover');
    return new Set((rows as { v: number }[]).map((r) => Number(r.v)));
  } finally {
    await conn.end();
  }
}

async function pgDb(cluster: ReturnType<typeof createCluster>): Promise<Db> {
  const pool = createPgPool(cluster);
  pool.on('error', () => undefined);
  await pool.query('CREATE TABLE IF NOT EXISTS bench_failover (id serial PRIMARY KEY, w int, v int)');
  await pool.query('CREATE INDEX IF NOT EXISTS bench_failover_wv ON bench_failover (w, v)');
  return {
    readOwn: async (w) => {
      const { rows } = await pool.query<{ m: number | null }>('SELECT max(v) AS m FROM bench_failover WHERE w = $1', [w]);
      return rows[0]?.m ?? null;
    },
    write: (w, v) => pool.query('INSERT INTO bench_failover (w, v) VALUES ($1, $2)', [w, v]),
    end: () => pool.end(),
  };
}

async function mysqlDb(cluster: ReturnType<typeof createCluster>): Promise<Db> {
  const pool = createMysqlPool(cluster);
  pool.on('error', () => undefined);
  await pool.query('CREATE TABLE IF NOT EXISTS bench_failover (id INT AUTO_INCREMENT PRIMARY KEY, w INT, v INT, KEY bench_failover_wv (w, v))');
  return {
    readOwn: async (w) => {
      const [rows] = await pool.query('SELECT max(v) AS m FROM bench_failover WHERE w = ?', [w]);
      const m = (rows as { m: number | null }[])[0]?.m;
      return m === null || m === undefined ? null : Number(m);
    },
    write: (w, v) => pool.query('INSERT INTO bench_failover (w, v) VALUES (?, ?)', [w, v]),
    end: () => pool.end(),
  };
}
