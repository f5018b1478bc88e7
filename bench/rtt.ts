/**
 * The cost of session consistency across a real network: PostgreSQL 15 under Patroni on three
 * hosts (network namespaces of the `npm run test:ha` test bed, test/ha/net/), the app in the root
 * namespace, at 0, 5 and 50 ms app ↔ node round trip. Root only: it builds the test bed itself and
 * removes it at the end (also on error and Ctrl-C).
 *
 * The delay: this kernel has no `sch_netem`, so each host's packets to the app go through iptables
 * NFQUEUE to `delayq.py`, which releases them late (+0.3–0.6 ms over the asked delay).
 *
 * One unit = a read-after-write as a web app does it: request 1 writes a row (and, under session
 * consistency, ends by taking its consistency token, as the HTTP middleware does), request 2
 * carries the token and reads the user's rows back, `gap` ms later. Variants, interleaved unit by
 * unit so they meet the same load:
 *
 * - `raw`: node-postgres straight to the primary (no dbrouter).
 * - `strong`: dbrouter, the read at level `strong` (on the primary); no token.
 * - `monitor`: dbrouter at `session`, health monitor on (checks every 200 ms): what the monitor knows
 *   (replay positions, lag) decides first (`knownFresh` → a replica, `knownBehind` → the primary),
 *   asking positions only when it cannot.
 * - `ask`: dbrouter at `session`, no monitor (`health: false`, roles given): positions asked every time.
 *
 * Reported per RTT and gap: stale own reads (must be 0), reads on replicas, unit time p50/p99 and
 * the p50 added over `strong` and over `raw`; medians, since the machine is shared.
 *
 * @example
 *   sudo npm run bench -- rtt                       # 0, 5, 50 ms; gaps 0 and 250 ms
 *   sudo npm run bench -- rtt --json                # last line: {"rtt":{"0":{"0":{"monitor":{...}}}}}
 *   DBROUTER_BENCH_UNITS=100 sudo npm run bench -- rtt --rtt 5,50 --gap 0
 */
import pg from 'pg';
import { createCluster, watchCluster, type Cluster, type ClusterHealth } from '../src/index.js';
import { createPgPool, type RoutedPgPool } from '../src/engines/postgres/index.js';
import { DATA_DIR, HOSTS, hostOf, net, patroni, run, until, url, type Host } from '../test/ha/topology.js';

type Variant = 'raw' | 'strong' | 'monitor' | 'ask';
const VARIANTS: readonly Variant[] = ['raw', 'strong', 'monitor', 'ask'];
const SECRET = 'bench-secret-of-at-least-16-bytes';
const CHECKS = { checkIntervalMillis: 200, checkTimeoutMillis: 1000, failuresBeforeDown: 2, maxReplicationLagMillis: 1000 } as const;

interface Side {
  variant: Variant;
  write(u: number, seq: number): Promise<string | undefined>;
  read(u: number, token: string | undefined): Promise<{ host: Host | undefined; seq: number }>;
  cluster?: Cluster;
  end(): Promise<void>;
}

interface Row {
  units: number;
  stale: number;
  replicaReads: number;
  p50: number;
  p99: number;
  knownFresh?: number;
  knownBehind?: number;
  captures?: number;
  probes?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs: readonly number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

function routedSide(variant: 'strong' | 'monitor' | 'ask', leader: Host, health: ClusterHealth[]): Side {
  const databases = Object.fromEntries(
    HOSTS.map((h) => [h, { url: url(h), pool: { max: 4, connectionTimeoutMillis: 5000 }, ...(variant === 'ask' ? { role: h === leader ? ('primary' as const) : ('replica' as const) } : {}) }]),
  );
  const cluster = createCluster({ databases, consistency: { secret: SECRET }, ...(variant === 'ask' ? { health: false } : {}) });
  cluster.on('error', () => undefined);
  if (variant !== 'ask') health.push(watchCluster(cluster, CHECKS));
  const pool: RoutedPgPool = createPgPool(cluster);
  pool.on('error', () => undefined);
  const strong = variant === 'strong' ? '/* dbrouter:strong */ ' : '';
  return {
    variant,
    cluster,
    write: (u, seq) =>
      cluster.withToken(undefined, async () => {
        await pool.query('INSERT INTO rtt_bench (u, seq) VALUES ($1, $2)', [u, seq]);
        return variant === 'strong' ? undefined : cluster.consistencyToken();
      }),
    read: (u, token) =>
      cluster.withToken(token, async () => {
        const { rows } = await pool.query<{ a: string; m: number }>(`${strong}SELECT host(inet_server_addr()) AS a, coalesce(max(seq), 0)::int AS m FROM rtt_bench WHERE u = $1`, [u]);
        return { host: hostOf(rows[0]!.a), seq: rows[0]!.m };
      }),
    end: () => pool.end(),
  };
}

function rawSide(leader: Host): Side {
  const pool = new pg.Pool({ connectionString: url(leader), max: 4 });
  pool.on('error', () => undefined);
  return {
    variant: 'raw',
    write: async (u, seq) => {
      await pool.query('INSERT INTO rtt_bench (u, seq) VALUES ($1, $2)', [u, seq]);
      return undefined;
    },
    read: async (u) => {
      const { rows } = await pool.query<{ a: string; m: number }>('SELECT host(inet_server_addr()) AS a, coalesce(max(seq), 0)::int AS m FROM rtt_bench WHERE u = $1', [u]);
      return { host: hostOf(rows[0]!.a), seq: rows[0]!.m };
    },
    end: () => pool.end(),
  };
}

async function measure(sides: readonly Side[], leader: Host, units: number, gap: number, base: number): Promise<Record<Variant, Row>> {
  const times = new Map<Variant, number[]>(sides.map((s) => [s.variant, []]));
  const rows = new Map<Variant, Row>(sides.map((s) => [s.variant, { units, stale: 0, replicaReads: 0, p50: 0, p99: 0 }]));
  const before = new Map(sides.map((s) => [s.variant, s.cluster?.consistencyStats()]));
  // Warm every pool first: connection set-up is not what this measures.
  for (const s of sides) for (let k = 0; k < 3; k++) await s.read(base, undefined);
  for (let i = 0; i < units; i++) {
    // Rotate the order so no variant always follows another's write.
    for (let k = 0; k < sides.length; k++) {
      const s = sides[(i + k) % sides.length]!;
      const u = base + VARIANTS.indexOf(s.variant);
      const t0 = performance.now();
      const token = await s.write(u, i + 1);
      const t1 = performance.now();
      if (gap > 0) await sleep(gap);
      const t2 = performance.now();
      const r = await s.read(u, token);
      const t3 = performance.now();
      times.get(s.variant)!.push(t1 - t0 + (t3 - t2));
      const row = rows.get(s.variant)!;
      if (r.seq < i + 1) row.stale++;
      if (r.host !== leader) row.replicaReads++;
    }
  }
  for (const s of sides) {
    const row = rows.get(s.variant)!;
    const t = times.get(s.variant)!;
    row.p50 = quantile(t, 0.5);
    row.p99 = quantile(t, 0.99);
    const a = before.get(s.variant);
    const b = s.cluster?.consistencyStats();
    if (a && b) {
      row.knownFresh = b.knownFresh - a.knownFresh;
      row.knownBehind = b.knownBehind - a.knownBehind;
      row.captures = b.captures - a.captures;
      row.probes = b.probes - a.probes;
    }
  }
  return Object.fromEntries(rows) as Record<Variant, Row>;
}

function list(args: readonly string[], flag: string, fallback: number[]): number[] {
  const i = args.indexOf(flag);
  return i < 0 ? fallback : args[i + 1]!.split(',').map(Number);
}

export async function main(args: readonly string[]): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stderr.write(
      'bench rtt: needs root. It builds the test bed of `npm run test:ha` (network namespaces dbrt-*, nftables, iptables NFQUEUE, Patroni + etcd from Debian packages; run `sudo npm run test:ha` once to install them) and removes it at the end.\n',
    );
    process.exitCode = 2;
    return;
  }
  const json = args.includes('--json');
  const rtts = list(args, '--rtt', [0, 5, 50]);
  const gaps = list(args, '--gap', [0, 250]);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let down: Promise<unknown> | undefined;
  const teardown = () => (down ??= run('netns_down.sh', [], { timeoutMillis: 120_000, env: { DBR_KILL_LEFTOVERS: '1' } }).catch((e: unknown) => log(`teardown failed: ${(e as Error).message}`)));
  const onSignal = () => void teardown().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const sides: Side[] = [];
  const health: ClusterHealth[] = [];
  const out: Record<string, Record<string, Record<Variant, Row>>> = {};
  try {
    try {
      await run('netns_up.sh', ['3'], { timeoutMillis: 30_000 });
    } catch (e) {
      throw new Error(`cannot build the test bed (is \`npm run test:ha\` or another bench running? namespaces dbrt-* exist): ${(e as Error).message}`, { cause: e });
    }
    await run('etcd_up.sh', [DATA_DIR], { timeoutMillis: 60_000 });
    await patroni.up();
    const leader = await until(async () => (await patroni.healthy()) !== undefined, 60_000, 'Patroni healthy').then(() => patroni.healthy());
    if (leader === undefined) throw new Error('Patroni has no leader');
    const admin = new pg.Client({ connectionString: url(leader) });
    await admin.connect();
    await admin.query('CREATE TABLE rtt_bench (u int NOT NULL, seq int NOT NULL, PRIMARY KEY (u, seq))');
    await admin.end();
    sides.push(rawSide(leader), routedSide('strong', leader, health), routedSide('monitor', leader, health), routedSide('ask', leader, health));
    await Promise.all(health.map((h) => h.start()));
    const units = Number(process.env.DBROUTER_BENCH_UNITS ?? 150);
    log(`# read-after-write on real hosts (Patroni leader ${leader}, 2 replicas); one unit = request 1 writes (+ token), request 2 reads it back; ${units} units per variant; delay by NFQUEUE (no netem in this kernel)`);
    let base = 1;
    for (const rtt of rtts) {
      for (const h of HOSTS) {
        if (rtt > 0) await net.delay(h, rtt, 'app');
        else await net.undelay(h);
      }
      await until(() => health.every((x) => x.status().nodes.every((n) => Math.abs((n.rttMillis ?? 0) - rtt) < Math.max(3, rtt * 0.5) && n.state === 'up')), 20_000, `the monitors see ${rtt} ms`, 100);
      out[rtt] = {};
      for (const gap of gaps) {
        // Fewer units where each takes long (50 ms round trips, a pause between the requests).
        const n = rtt >= 50 || gap > 0 ? Math.max(20, Math.round(units / 3)) : units;
        const r = await measure(sides, leader, n, gap, (base += 10));
        out[rtt][gap] = r;
        const s = r.strong.p50;
        const raw = r.raw.p50;
        log(`rtt ${rtt} ms, read ${gap} ms after the write (${n} units):`);
        for (const v of VARIANTS) {
          const x = r[v];
          const known = x.captures !== undefined ? `; per unit: ${(x.captures / n).toFixed(2)} captures, ${(x.probes! / n).toFixed(2)} probes, knownFresh ${(x.knownFresh! / n).toFixed(2)}, knownBehind ${(x.knownBehind! / n).toFixed(2)}` : '';
          log(
            `  ${v.padEnd(8)} stale ${x.stale}, reads on replicas ${((100 * x.replicaReads) / n).toFixed(0).padStart(3)} %, unit p50 ${x.p50.toFixed(1)} ms p99 ${x.p99.toFixed(1)} ms, ` +
              `p50 over strong ${(x.p50 - s >= 0 ? '+' : '') + (x.p50 - s).toFixed(1)} ms, over raw ${(x.p50 - raw >= 0 ? '+' : '') + (x.p50 - raw).toFixed(1)} ms${known}`,
          );
        }
      }
    }
    for (const h of HOSTS) await net.undelay(h);
  } finally {
    for (const h of health) await h.stop().catch(() => undefined);
    await Promise.all(sides.map((s) => s.end().catch(() => undefined)));
    for (const s of sides) await s.cluster?.end().catch(() => undefined);
    await teardown();
  }
  if (json) process.stdout.write(`${JSON.stringify({ rtt: out })}\n`);
}
