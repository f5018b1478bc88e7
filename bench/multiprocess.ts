/**
 * Several app processes behind one port, sharing one consistency secret (bench/multiprocess-app.ts),
 * on a local PostgreSQL cluster whose replicas apply changes late (default 200 ms). Simulated users
 * write and read their own data over HTTP; their token travels from response to request, and the
 * port's round-robin sends consecutive requests of one user to different processes. Reported:
 * stale own reads (must be 0), own reads served by another process than the write's, reads on
 * replicas, position captures on the primary per second, and memory per process after a run with
 * few users and after one with many (it should stay flat: sessions live in tokens, not in memory).
 *
 * @example
 *   npm run bench -- multiprocess                 # 4 processes, 100 then 1000 users, 15 s each
 *   npm run bench -- multiprocess --json          # last line: {"multiprocess":{...}}
 *   DBROUTER_BENCH_SECONDS=5 npm run bench -- multiprocess --processes 2 --users 50,200 --delay 100
 */
import cluster from 'node:cluster';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { findPortBlock } from '../src/local/ports.js';
import { startCluster, type LocalCluster } from '../src/local/index.js';

const SECRET = 'multiprocess-bench-secret-0123456789';

export interface PhaseResult {
  users: number;
  requests: number;
  failed: number;
  own_reads: number;
  stale_own_reads: number;
  /** Own reads served by another process than the one that took the user's last write. */
  cross_process_reads: number;
  reads: number;
  replica_reads: number;
  replica_share: number;
  captures_per_sec: number;
  /** Heap used per process after the phase (after a GC), in MiB. */
  heap_mib: number[];
  rss_mib: number[];
}

export interface MultiProcessOptions {
  processes: number;
  users: readonly number[];
  seconds: number;
  delayMillis: number;
  thinkMillis: number;
  writeShare: number;
  /** Send each response's token with the user's next request (default true; false is the control: what happens without it). */
  sendTokens?: boolean;
  /** Progress lines go here (stderr by default). */
  log?: (line: string) => void;
}

interface Reply { status: number; token: string | undefined; body: { pid: number; v?: number; port?: number; error?: string } }

function call(agent: Agent, port: number, pathAndQuery: string, method: string, token: string | undefined): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: pathAndQuery, method, agent, headers: token ? { 'x-dbrouter-token': token } : {}, timeout: 30_000 }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => {
        const h = res.headers['x-dbrouter-token'];
        resolve({ status: res.statusCode ?? 0, token: Array.isArray(h) ? h[0] : h, body: JSON.parse(data) as Reply['body'] });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`request ${pathAndQuery} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

interface ProcessStats { pid: number; heapUsed: number; rss: number; consistency: { captures: number }; stats: { byAlias: Record<string, { statements: number; writes: number }> } }

async function allStats(agent: Agent, port: number, processes: number): Promise<Map<number, ProcessStats>> {
  // Round-robin: enough calls reach every process; bounded.
  const seen = new Map<number, ProcessStats>();
  for (let i = 0; i < processes * 20 && seen.size < processes; i++) {
    const r = await call(agent, port, '/stats', 'GET', undefined);
    seen.set(r.body.pid, r.body as unknown as ProcessStats);
  }
  return seen;
}

/** Runs the app processes on a fresh local cluster and one phase per entry of `users`. */
export async function runMultiProcess(o: MultiProcessOptions): Promise<{ phases: PhaseResult[]; processes: number }> {
  const log = o.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const dir = mkdtempSync(path.join(tmpdir(), 'dbrouter-mp-'));
  rmSync(dir, { recursive: true });
  let local: LocalCluster | undefined;
  const workers: ReturnType<typeof cluster.fork>[] = [];
  try {
    local = await startCluster({ engine: 'postgres', dir, replicas: 2 });
    const admin = new pg.Client(local.databases.default!.url);
    await admin.connect();
    await admin.query('CREATE TABLE IF NOT EXISTS mp_writes (id bigserial PRIMARY KEY, user_id int NOT NULL, v int NOT NULL); CREATE INDEX IF NOT EXISTS mp_writes_user ON mp_writes (user_id, v)');
    await admin.end();
    await local.waitForAllReplicas();
    for (const alias of Object.keys(local.databases)) if (alias !== 'default') await local.setDelay(alias, o.delayMillis);
    const replicaPorts = new Set(Object.entries(local.databases).filter(([a]) => a !== 'default').map(([, d]) => Number(new URL(d.url).port)));

    const port = await findPortBlock(1);
    cluster.setupPrimary({ exec: new URL('./multiprocess-app.ts', import.meta.url).pathname, execArgv: ['--import', 'tsx', '--expose-gc'], silent: false });
    const env = {
      DBROUTER_BENCH_DATABASES: JSON.stringify(Object.fromEntries(Object.entries(local.databases).map(([a, d]) => [a, d.url]))),
      DBROUTER_BENCH_SECRET: SECRET,
      DBROUTER_BENCH_PORT: String(port),
    };
    const listening: Promise<void>[] = [];
    for (let i = 0; i < o.processes; i++) {
      const w = cluster.fork(env);
      workers.push(w);
      listening.push(new Promise((resolve, reject) => {
        w.once('message', () => resolve());
        w.once('exit', (code) => reject(new Error(`app process exited with ${code} before listening`)));
      }));
    }
    await Promise.all(listening);
    const agent = new Agent({ keepAlive: false });

    const phases: PhaseResult[] = [];
    let base = 0;
    for (const users of o.users) {
      const before = await allStats(agent, port, o.processes);
      const r = { requests: 0, failed: 0, own_reads: 0, stale: 0, cross: 0 };
      const started = performance.now();
      const deadline = Date.now() + o.seconds * 1000;
      const one = async (user: number): Promise<void> => {
        let written = 0;
        let writerPid = 0;
        let token: string | undefined;
        const keep = (t: string | undefined): string | undefined => (o.sendTokens === false ? undefined : t ?? token);
        // Spread the users' first requests over one think time.
        await new Promise((res) => setTimeout(res, Math.random() * o.thinkMillis));
        while (Date.now() < deadline) {
          r.requests++;
          try {
            if (Math.random() < o.writeShare) {
              const reply = await call(agent, port, `/w?u=${user}&v=${written + 1}`, 'POST', token);
              if (reply.status !== 200) throw new Error(reply.body.error ?? `status ${reply.status}`);
              written++;
              writerPid = reply.body.pid;
              token = keep(reply.token);
            } else {
              const reply = await call(agent, port, `/r?u=${user}`, 'GET', token);
              if (reply.status !== 200) throw new Error(reply.body.error ?? `status ${reply.status}`);
              token = keep(reply.token);
              if (written > 0) {
                r.own_reads++;
                if ((reply.body.v ?? 0) < written) r.stale++;
                if (reply.body.pid !== writerPid) r.cross++;
              }
            }
          } catch {
            r.failed++;
          }
          await new Promise((res) => setTimeout(res, o.thinkMillis));
        }
      };
      await Promise.all(Array.from({ length: users }, (_, i) => one(base + i + 1)));
      base += users;
      const seconds = (performance.now() - started) / 1000;
      const after = await allStats(agent, port, o.processes);
      let reads = 0;
      let replicaReads = 0;
      let captures = 0;
      for (const [pid, s] of after) {
        const b = before.get(pid);
        captures += s.consistency.captures - (b?.consistency.captures ?? 0);
        for (const [alias, a] of Object.entries(s.stats.byAlias)) {
          const n = a.statements - a.writes - ((b?.stats.byAlias[alias]?.statements ?? 0) - (b?.stats.byAlias[alias]?.writes ?? 0));
          reads += n;
          if (replicaPorts.has(Number(new URL(local.databases[alias]!.url).port))) replicaReads += n;
        }
      }
      const mib = (n: number) => Math.round((n / 1048576) * 10) / 10;
      const phase: PhaseResult = {
        users, requests: r.requests, failed: r.failed, own_reads: r.own_reads, stale_own_reads: r.stale, cross_process_reads: r.cross,
        reads, replica_reads: replicaReads, replica_share: reads === 0 ? 0 : Math.round((replicaReads / reads) * 1000) / 1000,
        captures_per_sec: Math.round((captures / seconds) * 10) / 10,
        heap_mib: [...after.values()].map((s) => mib(s.heapUsed)), rss_mib: [...after.values()].map((s) => mib(s.rss)),
      };
      log(`# ${users} users: ${phase.requests} requests, ${phase.failed} failed; own reads ${phase.own_reads}, stale ${phase.stale_own_reads}, by another process ${phase.cross_process_reads}; reads on replicas ${(phase.replica_share * 100).toFixed(1)} %; captures ${phase.captures_per_sec}/s; heap MiB per process ${phase.heap_mib.join(' ')}`);
      phases.push(phase);
    }
    agent.destroy();
    return { phases, processes: o.processes };
  } finally {
    await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
      if (w.isDead()) return resolve();
      const kill = setTimeout(() => w.kill('SIGKILL'), 5000);
      w.once('exit', () => { clearTimeout(kill); resolve(); });
      w.disconnect();
    })));
    await local?.down();
  }
}

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export async function main(args: readonly string[]): Promise<void> {
  const result = await runMultiProcess({
    processes: Number(flag(args, '--processes') ?? 4),
    users: (flag(args, '--users') ?? '100,1000').split(',').map(Number),
    seconds: Number(process.env.DBROUTER_BENCH_SECONDS ?? 15),
    delayMillis: Number(flag(args, '--delay') ?? 200),
    thinkMillis: Number(process.env.DBROUTER_BENCH_THINK_MS ?? 1000),
    writeShare: Number(process.env.DBROUTER_BENCH_WRITE_SHARE ?? 0.2),
    log: (line) => process.stdout.write(line + '\n'),
  });
  if (args.includes('--json')) process.stdout.write(JSON.stringify({ multiprocess: result }) + '\n');
}
