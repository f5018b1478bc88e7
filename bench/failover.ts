/**
 * `npm run bench -- failover [--engine postgres|mariadb] [--json]`: a steady mixed load (reads and
 * writes from concurrent workers) through dbrouter's routed pool with the health monitor on a real
 * local cluster; the primary is killed and a replica promoted. Measures the time from the promotion
 * completing to the first successful write, and counts failed reads and writes over the whole run.
 * With `--json` the last line is `{"failover":{"write_gap_ms":N,"failed_reads":N,"failed_writes":N}}`.
 */
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCluster } from '../src/index.js';
import { createPgPool } from '../src/engines/postgres/index.js';
import { createMysqlPool } from '../src/engines/mysql/index.js';
import { watchCluster } from '../src/health/cluster-health.js';
import { destroyClusterSync, startCluster, type Engine } from '../src/local/index.js';

const WORKERS = 8;
const WRITE_SHARE = 0.2;
const WARM_UP_MILLIS = 1000;
const AFTER_MILLIS = 1000;
// Each worker is one user and each operation one request: a unit of work of its own, under the
// default `session` level, carrying the user's consistency token from request to request as the
// HTTP middleware's cookie would. So reads after a user's own write must see it, failover or not.
const SECRET = 'bench-failover-secret-0123456789';

interface Db {
  read(): Promise<unknown>;
  write(v: number): Promise<unknown>;
  end(): Promise<void>;
}

export async function main(args: readonly string[]): Promise<void> {
  const json = args.includes('--json');
  const engineArg = args[args.indexOf('--engine') + 1];
  const engine: Engine = args.includes('--engine') && engineArg === 'mariadb' ? 'mariadb' : 'postgres';
  const dir = path.join(tmpdir(), `dbrouter-bench-failover-${process.pid}`);
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
    const counts = { reads: 0, writes: 0, failedReads: 0, failedWrites: 0 };
    const okWrites: number[] = [];
    const errors = new Map<string, number>();
    let running = true;
    let n = 0;
    const worker = async () => {
      let token: string | undefined;
      while (running) {
        const write = Math.random() < WRITE_SHARE;
        try {
          await cluster.withToken(token, async () => {
            if (write) {
              await db!.write(++n);
              try {
                token = (await cluster.consistencyToken()) ?? token;
              } catch (e) {
                throw new Error(`token: ${(e as Error).message}`, { cause: e });
              }
            } else await db!.read();
          });
          if (write) {
            counts.writes++;
            okWrites.push(performance.now());
          } else counts.reads++;
        } catch (e) {
          if (write) counts.failedWrites++;
          else counts.failedReads++;
          const key = `${write ? 'write' : 'read'}: ${(e as Error).message.split('\n')[0]}`;
          errors.set(key, (errors.get(key) ?? 0) + 1);
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    const workers = Array.from({ length: WORKERS }, worker);
    await new Promise((r) => setTimeout(r, WARM_UP_MILLIS));
    const killedAt = performance.now();
    await local.kill('default');
    await local.promote('replica1');
    const promotedAt = performance.now();
    const deadline = promotedAt + 15_000;
    while (!okWrites.some((t) => t > promotedAt) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, AFTER_MILLIS));
    running = false;
    await Promise.all(workers);
    const first = okWrites.find((t) => t > promotedAt);
    const gap = first === undefined ? -1 : Math.round(first - promotedAt);
    const report = { write_gap_ms: gap, failed_reads: counts.failedReads, failed_writes: counts.failedWrites };
    if (!json) {
      console.log(`failover bench (${engine}, ${WORKERS} workers, ${WRITE_SHARE * 100}% writes)`);
      console.log(`  kill + promote took ${Math.round(promotedAt - killedAt)} ms`);
      console.log(`  reads ok ${counts.reads}, failed ${counts.failedReads}; writes ok ${counts.writes}, failed ${counts.failedWrites}`);
      console.log(`  first write ${gap} ms after the promotion completed (target <= 1000, aim 300)`);
      for (const [what, count] of errors) console.log(`  ${count} × ${what}`);
    } else {
      console.log(JSON.stringify({ failover: report }));
    }
  } finally {
    await db?.end();
    await health.stop();
    await cluster.end();
    await local.down();
    process.off('exit', cleanup);
  }
}

async function pgDb(cluster: ReturnType<typeof createCluster>): Promise<Db> {
  const pool = createPgPool(cluster);
  pool.on('error', () => undefined);
  await pool.query('CREATE TABLE IF NOT EXISTS bench_failover (id serial PRIMARY KEY, v int)');
  return {
    read: () => pool.query('SELECT count(*) FROM bench_failover WHERE v > $1', [0]),
    write: (v) => pool.query('INSERT INTO bench_failover (v) VALUES ($1)', [v]),
    end: () => pool.end(),
  };
}

async function mysqlDb(cluster: ReturnType<typeof createCluster>): Promise<Db> {
  const pool = createMysqlPool(cluster);
  pool.on('error', () => undefined);
  await pool.query('CREATE TABLE IF NOT EXISTS bench_failover (id INT AUTO_INCREMENT PRIMARY KEY, v INT)');
  return {
    read: () => pool.query('SELECT count(*) FROM bench_failover WHERE v > ?', [0]),
    write: (v) => pool.query('INSERT INTO bench_failover (v) VALUES (?)', [v]),
    end: () => pool.end(),
  };
}
