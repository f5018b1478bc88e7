/**
 * What a write's own GTID saves on MariaDB: read-after-write with the position taken from the
 * write's OK packet (`last_gtid`, tracked per connection: the default) against the lazy capture
 * (tracking turned off by an `onConnect` statement, so every write's position is asked of the
 * primary), on a local MariaDB cluster (a primary, two replicas) with every node behind a
 * userspace TCP proxy that delays each chunk (test/harness/tcp-proxy.ts): app ↔ node round trips
 * of 0, 5 and 50 ms. No root needed.
 *
 * Variants, interleaved unit by unit so they meet the same load:
 * - `strong`: the read at level `strong` (on the primary), no token: the floor.
 * - `capture`: session consistency, the position asked of the primary (tracking off).
 * - `own-gtid`: session consistency, the position from the write's result.
 *
 * Two patterns: `token` — request 1 writes a row and takes its consistency token (what the HTTP
 * middleware does), request 2 carries the token and reads the row back at once; `same` — one unit
 * of work writes, then reads at once. Reported per RTT: stale own reads (must be 0), reads on
 * replicas, unit p50/p99, captures per unit, and the commands the primary received per unit
 * (counted from the bytes through its proxy: the write, a capture, a read that fell back).
 * No health monitor (its checks would go to the primary too; read at once, what it knows
 * predates the write anyway: see docs/production.md).
 *
 * @example
 *   npm run bench -- owngtid                   # 0, 5, 50 ms
 *   npm run bench -- owngtid --rtt 50 --json   # last line: {"owngtid":{"50":{"token":{"own-gtid":{...}}}}}
 *   DBROUTER_BENCH_UNITS=60 npm run bench -- owngtid
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCluster, type Cluster } from '../src/index.js';
import { createMysqlPool, type RoutedMysqlPool } from '../src/engines/mysql/index.js';
import { startCluster, type LocalCluster } from '../src/local/index.js';
import { countingProxy, type MysqlCommandCounter } from '../test/harness/mysql-commands.js';
import { startProxy, type TcpProxy } from '../test/harness/tcp-proxy.js';

type Variant = 'strong' | 'capture' | 'own-gtid';
const VARIANTS: readonly Variant[] = ['strong', 'capture', 'own-gtid'];
type Pattern = 'token' | 'same';
const PATTERNS: readonly Pattern[] = ['token', 'same'];
const SECRET = 'bench-secret-of-at-least-16-bytes';

interface Row {
  units: number;
  stale: number;
  replicaReads: number;
  p50: number;
  p99: number;
  capturesPerUnit: number;
  primaryCommandsPerUnit: number;
}

interface Side {
  readonly variant: Variant;
  readonly cluster: Cluster;
  readonly pool: RoutedMysqlPool;
  readonly commands: MysqlCommandCounter;
}

const quantile = (xs: readonly number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

function list(args: readonly string[], flag: string, fallback: number[]): number[] {
  const i = args.indexOf(flag);
  return i < 0 ? fallback : args[i + 1]!.split(',').map(Number);
}

async function side(variant: Variant, local: LocalCluster, proxies: TcpProxy[]): Promise<Side> {
  const primaryPort = Number(new URL(local.databases[local.primaryAlias]!.url).port);
  const { proxy, commands } = await countingProxy(primaryPort);
  proxies.push(proxy);
  const databases: Record<string, { url: string; role: 'primary' | 'replica' }> = {};
  for (const [alias, d] of Object.entries(local.databases)) {
    const url = new URL(d.url);
    if (alias === local.primaryAlias) url.port = String(proxy.port);
    else {
      const p = await startProxy(Number(url.port));
      proxies.push(p);
      url.port = String(p.port);
    }
    databases[alias] = { url: url.toString(), role: alias === local.primaryAlias ? 'primary' : 'replica' };
  }
  const cluster = createCluster({
    databases,
    health: false,
    consistency: { secret: SECRET, ...(variant === 'strong' ? { level: 'strong' as const } : {}) },
    ...(variant === 'capture' ? { onConnect: ["SET SESSION session_track_system_variables = ''"] } : {}),
  });
  cluster.on('error', () => undefined);
  const pool = createMysqlPool(cluster);
  pool.on('error', () => undefined);
  return { variant, cluster, pool, commands };
}

async function unit(s: Side, pattern: Pattern, u: number, seq: number): Promise<{ alias: string; seq: number }> {
  const write = () => s.pool.query('INSERT INTO gtid_bench (u, seq) VALUES (?, ?)', [u, seq]);
  const read = async () => {
    const [rows] = await s.pool.query('SELECT @@port AS port, COALESCE(MAX(seq), 0) AS m FROM gtid_bench WHERE u = ?', [u]);
    const r = (rows as { port: number; m: number | string }[])[0]!;
    return { port: Number(r.port), seq: Number(r.m) };
  };
  let r: { port: number; seq: number };
  if (pattern === 'token') {
    const token = await s.cluster.withToken(undefined, async () => {
      await write();
      return s.variant === 'strong' ? undefined : s.cluster.consistencyToken();
    });
    r = await s.cluster.withToken(token, read);
  } else {
    r = await s.cluster.withToken(undefined, async () => {
      await write();
      return read();
    });
  }
  return { alias: String(r.port), seq: r.seq };
}

async function measure(sides: readonly Side[], pattern: Pattern, units: number, base: number, primaryPort: number): Promise<Record<Variant, Row>> {
  const times = new Map<Variant, number[]>(sides.map((s) => [s.variant, []]));
  const rows = new Map<Variant, Row>(sides.map((s) => [s.variant, { units, stale: 0, replicaReads: 0, p50: 0, p99: 0, capturesPerUnit: 0, primaryCommandsPerUnit: 0 }]));
  const commands = new Map<Variant, number>(sides.map((s) => [s.variant, 0]));
  const captures = new Map<Variant, number>(sides.map((s) => [s.variant, 0]));
  // Warm every pool first: connection set-up is not what this measures.
  for (const s of sides) for (let k = 0; k < 4; k++) await unit(s, pattern, base + 50 + VARIANTS.indexOf(s.variant), k + 1);
  for (let i = 0; i < units; i++) {
    for (let k = 0; k < sides.length; k++) {
      const s = sides[(i + k) % sides.length]!;
      const u = base + VARIANTS.indexOf(s.variant);
      const c0 = s.commands.count;
      const k0 = s.cluster.consistencyStats().captures;
      const t0 = performance.now();
      const r = await unit(s, pattern, u, i + 1);
      times.get(s.variant)!.push(performance.now() - t0);
      commands.set(s.variant, commands.get(s.variant)! + s.commands.count - c0);
      captures.set(s.variant, captures.get(s.variant)! + s.cluster.consistencyStats().captures - k0);
      const row = rows.get(s.variant)!;
      if (r.seq < i + 1) row.stale++;
      if (Number(r.alias) !== primaryPort) row.replicaReads++;
    }
  }
  for (const s of sides) {
    const row = rows.get(s.variant)!;
    const t = times.get(s.variant)!;
    row.p50 = quantile(t, 0.5);
    row.p99 = quantile(t, 0.99);
    row.capturesPerUnit = captures.get(s.variant)! / units;
    row.primaryCommandsPerUnit = commands.get(s.variant)! / units;
  }
  return Object.fromEntries(rows) as Record<Variant, Row>;
}

export async function main(args: readonly string[]): Promise<void> {
  const json = args.includes('--json');
  const rtts = list(args, '--rtt', [0, 5, 50]);
  const units = Number(process.env.DBROUTER_BENCH_UNITS ?? 150);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const dir = mkdtempSync(path.join(tmpdir(), 'dbrouter-bench-owngtid-'));
  const local = await startCluster({ engine: 'mariadb', dir, replicas: 2 });
  const proxies: TcpProxy[] = [];
  const sides: Side[] = [];
  const out: Record<string, Record<string, Record<Variant, Row>>> = {};
  try {
    const admin = createCluster({ databases: { p: { url: local.databases[local.primaryAlias]!.url, role: 'primary' } }, health: false });
    const ap = createMysqlPool(admin);
    await ap.query('DROP TABLE IF EXISTS gtid_bench');
    await ap.query('CREATE TABLE gtid_bench (u int NOT NULL, seq int NOT NULL, PRIMARY KEY (u, seq))');
    await ap.end();
    await local.waitForAllReplicas();
    for (const v of VARIANTS) sides.push(await side(v, local, proxies));
    const primaryPort = Number(new URL(local.databases[local.primaryAlias]!.url).port);
    log(`# read-after-write on a local MariaDB cluster (a primary, 2 replicas), each node behind a delaying proxy; ${units} units per variant (a third at 50 ms)`);
    let base = 1;
    for (const rtt of rtts) {
      for (const p of proxies) p.delay(rtt / 2);
      out[rtt] = {};
      for (const pattern of PATTERNS) {
        const n = rtt >= 50 ? Math.max(20, Math.round(units / 3)) : units;
        const r = await measure(sides, pattern, n, (base += 100), primaryPort);
        out[rtt][pattern] = r;
        log(`rtt ${rtt} ms, ${pattern === 'token' ? 'write + token, then a read with the token' : 'write, then a read, in one unit of work'} (${n} units):`);
        for (const v of VARIANTS) {
          const x = r[v];
          log(
            `  ${v.padEnd(8)} stale ${x.stale}, reads on replicas ${((100 * x.replicaReads) / n).toFixed(0).padStart(3)} %, unit p50 ${x.p50.toFixed(1)} ms p99 ${x.p99.toFixed(1)} ms, ` +
              `over strong ${(x.p50 - r.strong.p50 >= 0 ? '+' : '') + (x.p50 - r.strong.p50).toFixed(1)} ms; per unit: ${x.capturesPerUnit.toFixed(2)} captures, ${x.primaryCommandsPerUnit.toFixed(2)} commands on the primary`,
          );
        }
      }
    }
  } finally {
    await Promise.all(sides.map((s) => s.pool.end().catch(() => undefined)));
    for (const s of sides) await s.cluster.end().catch(() => undefined);
    await Promise.all(proxies.map((p) => p.close()));
    await local.down();
  }
  if (json) process.stdout.write(`${JSON.stringify({ owngtid: out })}\n`);
}
