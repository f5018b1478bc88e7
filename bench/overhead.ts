/**
 * dbrouter's overhead against the raw drivers, on real local clusters (a primary and one replica
 * per engine), in one process with interleaved rounds:
 *
 * - `select1`: sequential `SELECT 1` round trips. Raw: a `pg.Pool` / mysql2 pool on the replica;
 *   dbrouter: the routed pool, whose reads go to that same replica through that same pool (the
 *   routed pool is built over the raw pools with its `createPool` option), so only dbrouter's layer differs.
 * - `mix`: a parameterised read/write mix (80% point reads, 20% updates). Raw: two pools routed by
 *   hand (reads to the replica, writes to the primary); dbrouter: one routed pool.
 *
 * - `sqlComment: true` (printed apart, not in the ratio above): `select1` and `mix` again through a
 *   routed pool whose cluster comments each statement (sqlcommenter), over the same raw pools.
 * - `peer` (printed apart, not in the ratio above): the same Drizzle queries (a point select, and an
 *   update every fifth) through Drizzle's `withReplicas` over the raw pools vs through `drizzle()`
 *   over dbrouter's routed pool: dbrouter/peer.
 *
 * On MySQL/MariaDB the ratio can be below 1: the routed pool drives mysql2's callback pool, which
 * skips the stack trace mysql2's promise API (the raw side) captures per query.
 *
 * Statement by statement, raw and routed run back to back in alternating order; a round's ratio
 * dbrouter/raw is the median of those pairs, the result the median over rounds. Also: the classifier's throughput (bench/classify.ts) and the routing
 * decision's cost with 1, 8 and 64 replica aliases, which should stay flat.
 *
 * @example
 *   npm run bench -- overhead          # a report
 *   npm run bench -- overhead --json   # last line: {"overhead":{"postgres":R,"mysql":R},"classify_per_sec":N}
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { createCluster, type ClusterConfig } from '../src/index.js';
import { createPgPool } from '../src/engines/postgres/index.js';
import { createMysqlPool } from '../src/engines/mysql/index.js';
import { findMariadb, findPostgres, openCluster, startCluster, type LocalCluster } from '../src/local/index.js';
import { eq } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzleMysql } from 'drizzle-orm/mysql2';
import { integer, pgTable, withReplicas as pgWithReplicas } from 'drizzle-orm/pg-core';
import { int, mysqlTable, withReplicas as mysqlWithReplicas } from 'drizzle-orm/mysql-core';
import { runClassifyBench } from './classify.js';

// The peer: Drizzle's own `withReplicas` (reads by method name to a replica db, writes to the
// primary db) over the raw pools, against the same Drizzle queries over dbrouter's one routed pool.
// Both sides build the same Drizzle query; what differs is who routes it.
const pgItems = pgTable('bench_items', { id: integer('id').primaryKey(), v: integer('v') });
const myItems = mysqlTable('bench_items', { id: int('id').primaryKey(), v: int('v') });

const ROUNDS = Number(process.env.DBROUTER_BENCH_ROUNDS ?? 21);
const OPS = Number(process.env.DBROUTER_BENCH_OPS ?? 300);
const ROWS = 1000;

type Op = (i: number) => Promise<unknown>;

interface Workload {
  name: string;
  raw: Op;
  routed: Op;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * One round: statement i runs raw and routed back to back (the order alternating with i), so both
 * sides meet the same machine load; the round's ratio is the median of the pairs' ratios, which a
 * stall on a shared machine does not move.
 */
async function pairedRound(w: Workload, ops: number, offset: number): Promise<{ ratio: number; raw: number; routed: number }> {
  const ratios: number[] = [];
  const raws: number[] = [];
  const routeds: number[] = [];
  for (let i = 0; i < ops; i++) {
    let a: number;
    let b: number;
    const t0 = performance.now();
    if ((i + offset) % 2 === 0) {
      await w.raw(i);
      const t1 = performance.now();
      await w.routed(i);
      a = t1 - t0;
      b = performance.now() - t1;
    } else {
      await w.routed(i);
      const t1 = performance.now();
      await w.raw(i);
      b = t1 - t0;
      a = performance.now() - t1;
    }
    ratios.push(b / a);
    raws.push(a);
    routeds.push(b);
  }
  return { ratio: median(ratios), raw: median(raws) * 1000, routed: median(routeds) * 1000 };
}

/** Interleaved rounds of every workload; the median ratio of each and of all rounds together. */
async function compare(workloads: readonly Workload[]): Promise<{ byWorkload: Record<string, { ratio: number; rawMicros: number; routedMicros: number }>; ratio: number }> {
  for (const w of workloads) await pairedRound(w, OPS, 0);
  const ratios: Record<string, number[]> = {};
  const raws: Record<string, number[]> = {};
  const routeds: Record<string, number[]> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const w of workloads) {
      const x = await pairedRound(w, OPS, r);
      (ratios[w.name] ??= []).push(x.ratio);
      (raws[w.name] ??= []).push(x.raw);
      (routeds[w.name] ??= []).push(x.routed);
    }
  }
  const byWorkload = Object.fromEntries(workloads.map((w) => [w.name, { ratio: median(ratios[w.name]!), rawMicros: median(raws[w.name]!), routedMicros: median(routeds[w.name]!) }]));
  return { byWorkload, ratio: median(Object.values(ratios).flat()) };
}

/**
 * The primary and replica1 only, so routed reads land where the raw replica pool points; consistency
 * `eventual`, as the hand-routed raw side (read-your-writes sends some reads to the primary and
 * captures positions: a feature with its own cost, not routing overhead).
 */
function clusterConfig(local: LocalCluster): ClusterConfig {
  const pick = ['default', 'replica1'];
  return {
    databases: Object.fromEntries(Object.entries(local.databases).filter(([a]) => pick.includes(a)).map(([alias, d]) => [alias, { url: d.url, role: d.role }])),
    consistency: 'eventual',
  };
}

async function benchPostgres(local: LocalCluster) {
  const primaryUrl = local.databases.default!.url;
  const replicaUrl = local.databases.replica1!.url;
  const setup = new pg.Client(primaryUrl);
  await setup.connect();
  await setup.query(`DROP TABLE IF EXISTS bench_items; CREATE TABLE bench_items (id int PRIMARY KEY, v int);
    INSERT INTO bench_items SELECT g, 0 FROM generate_series(1, ${ROWS}) g`);
  await setup.end();
  await local.waitForAllReplicas();
  const rawReplica = new pg.Pool({ connectionString: replicaUrl, max: 2 });
  const rawPrimary = new pg.Pool({ connectionString: primaryUrl, max: 2 });
  const cluster = createCluster(clusterConfig(local));
  // The routed pool runs on the very pools the raw side uses: the same connections, the same server
  // processes. What differs is dbrouter's layer alone (on a shared machine, two backends' speeds drift).
  const routed = createPgPool(cluster, { createPool: (_config, alias) => (alias === 'replica1' ? rawReplica : rawPrimary) });
  const read = 'SELECT v FROM bench_items WHERE id = $1';
  const write = 'UPDATE bench_items SET v = v + 1 WHERE id = $1';
  const isWrite = (i: number) => i % 5 === 4;
  const id = (i: number) => (i * 7919) % ROWS + 1;
  const result = await compare([
    { name: 'select1', raw: () => rawReplica.query('SELECT 1'), routed: () => routed.query('SELECT 1') },
    {
      name: 'mix',
      raw: (i) => (isWrite(i) ? rawPrimary.query(write, [id(i)]) : rawReplica.query(read, [id(i)])),
      routed: (i) => routed.query(isWrite(i) ? write : read, [id(i)]),
    },
  ]);
  // The same workloads with sqlComment on (apart: the headline ratio is the default, off).
  const commented = createPgPool(createCluster({ ...clusterConfig(local), sqlComment: true }), { createPool: (_config, alias) => (alias === 'replica1' ? rawReplica : rawPrimary) });
  const comment = await compare([
    { name: 'select1', raw: () => rawReplica.query('SELECT 1'), routed: () => commented.query('SELECT 1') },
    {
      name: 'mix',
      raw: (i) => (isWrite(i) ? rawPrimary.query(write, [id(i)]) : rawReplica.query(read, [id(i)])),
      routed: (i) => commented.query(isWrite(i) ? write : read, [id(i)]),
    },
  ]);
  const peerDb = pgWithReplicas(drizzlePg(rawPrimary), [drizzlePg(rawReplica)]);
  const oursDb = drizzlePg(routed.asPgPool());
  const drizzleOp = (db: typeof oursDb) => (i: number) => isWrite(i)
    ? db.update(pgItems).set({ v: 1 }).where(eq(pgItems.id, id(i)))
    : db.select().from(pgItems).where(eq(pgItems.id, id(i)));
  const peer = await compare([{ name: 'drizzle', raw: drizzleOp(peerDb), routed: drizzleOp(oursDb) }]);
  const s = cluster.stats();
  if ((s.byAlias.replica1?.statements ?? 0) === 0) throw new Error('the routed reads did not reach the replica');
  await routed.end(); // ends the shared raw pools
  return { ...result, peer: peer.byWorkload.drizzle!, comment };
}

async function benchMysql(local: LocalCluster) {
  const primaryUrl = local.databases.default!.url;
  const replicaUrl = local.databases.replica1!.url;
  const setup = await mysql.createConnection({ uri: primaryUrl, multipleStatements: true });
  await setup.query(`DROP TABLE IF EXISTS bench_items; CREATE TABLE bench_items (id int PRIMARY KEY, v int) ENGINE=InnoDB;
    INSERT INTO bench_items SELECT seq, 0 FROM seq_1_to_${ROWS}`);
  await setup.end();
  await local.waitForAllReplicas();
  const rawReplica = mysql.createPool({ uri: replicaUrl, connectionLimit: 2 });
  const rawPrimary = mysql.createPool({ uri: primaryUrl, connectionLimit: 2 });
  const cluster = createCluster(clusterConfig(local));
  const routed = createMysqlPool(cluster, { createPool: (_config, alias) => (alias === 'replica1' ? rawReplica : rawPrimary) });
  const read = 'SELECT v FROM bench_items WHERE id = ?';
  const write = 'UPDATE bench_items SET v = v + 1 WHERE id = ?';
  const isWrite = (i: number) => i % 5 === 4;
  const id = (i: number) => (i * 7919) % ROWS + 1;
  const result = await compare([
    { name: 'select1', raw: () => rawReplica.query('SELECT 1'), routed: () => routed.query('SELECT 1') },
    {
      name: 'mix',
      raw: (i) => (isWrite(i) ? rawPrimary.execute(write, [id(i)]) : rawReplica.execute(read, [id(i)])),
      routed: (i) => routed.execute(isWrite(i) ? write : read, [id(i)]),
    },
  ]);
  const commented = createMysqlPool(createCluster({ ...clusterConfig(local), sqlComment: true }), { createPool: (_config, alias) => (alias === 'replica1' ? rawReplica : rawPrimary) });
  const comment = await compare([
    { name: 'select1', raw: () => rawReplica.query('SELECT 1'), routed: () => commented.query('SELECT 1') },
    {
      name: 'mix',
      raw: (i) => (isWrite(i) ? rawPrimary.execute(write, [id(i)]) : rawReplica.execute(read, [id(i)])),
      routed: (i) => commented.execute(isWrite(i) ? write : read, [id(i)]),
    },
  ]);
  const peerDb = mysqlWithReplicas(drizzleMysql(rawPrimary), [drizzleMysql(rawReplica)]);
  const oursDb = drizzleMysql(routed.asMysqlPool());
  const drizzleOp = (db: typeof oursDb) => (i: number) => isWrite(i)
    ? db.update(myItems).set({ v: 1 }).where(eq(myItems.id, id(i)))
    : db.select().from(myItems).where(eq(myItems.id, id(i)));
  const peer = await compare([{ name: 'drizzle', raw: drizzleOp(peerDb), routed: drizzleOp(oursDb) }]);
  await routed.end(); // ends the shared raw pools
  return { ...result, peer: peer.byWorkload.drizzle!, comment };
}

/** Nanoseconds per routing decision (classification cached) with `replicas` replica aliases. */
export function decisionNanos(replicas: number, iterations = 200_000): number {
  const databases: Record<string, { host: string; role: 'primary' | 'replica' }> = { default: { host: 'primary.bench', role: 'primary' } };
  for (let i = 1; i <= replicas; i++) databases[`replica${i}`] = { host: `replica${i}.bench`, role: 'replica' };
  const cluster = createCluster({ databases, engine: 'postgres' });
  const sqls = ['SELECT v FROM bench_items WHERE id = $1', 'UPDATE bench_items SET v = v + 1 WHERE id = $1', 'SELECT 1'];
  let sink = 0;
  for (let i = 0; i < 100_000; i++) sink += cluster.route(sqls[i % 3]!).node.index;
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) sink += cluster.route(sqls[i % 3]!).node.index;
    rounds.push(((performance.now() - t0) * 1e6) / iterations);
  }
  if (sink < 0) throw new Error('unreachable');
  return median(rounds);
}

async function withCluster<T>(engine: 'postgres' | 'mariadb', fn: (c: LocalCluster) => Promise<T>): Promise<T | null> {
  try {
    if (engine === 'postgres') await findPostgres();
    else await findMariadb();
  } catch (e) {
    process.stderr.write(`overhead: ${engine} skipped: ${(e as Error).message}\n`);
    return null;
  }
  // A running cluster can be reused (DBROUTER_BENCH_PG_DIR / DBROUTER_BENCH_MARIADB_DIR); it is left running.
  const reuse = process.env[engine === 'postgres' ? 'DBROUTER_BENCH_PG_DIR' : 'DBROUTER_BENCH_MARIADB_DIR'];
  if (reuse) return fn(await openCluster(reuse));
  const dir = path.join(mkdtempSync(path.join(tmpdir(), `dbrouter-bench-${engine}-`)), 'cluster');
  const local = await startCluster({ engine, dir, replicas: 1 });
  try {
    return await fn(local);
  } finally {
    await local.down();
  }
}

export async function main(args: readonly string[]): Promise<void> {
  const json = args.includes('--json');
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const decisions = [1, 8, 64].map((n) => [n, decisionNanos(n)] as const);
  const classifyResult = await runClassifyBench({ rounds: 5 });
  const pgResult = await withCluster('postgres', benchPostgres);
  const myResult = await withCluster('mariadb', benchMysql);
  const round3 = (x: number) => Math.round(x * 1000) / 1000;
  for (const [engine, r] of [['postgres', pgResult], ['mysql', myResult]] as const) {
    if (r === null) continue;
    say(`${engine}: dbrouter/raw = ${r.ratio.toFixed(3)} (target ≤ 1.03) over ${ROUNDS} rounds of ${OPS} interleaved statement pairs`);
    for (const [name, w] of Object.entries(r.byWorkload)) {
      say(`  ${name.padEnd(8)} raw ${w.rawMicros.toFixed(1)} µs/stmt, dbrouter ${w.routedMicros.toFixed(1)} µs/stmt, ratio ${w.ratio.toFixed(3)}`);
    }
    const p = r.peer;
    const c = r.comment;
    say(`  sqlComment: true  dbrouter/raw = ${c.ratio.toFixed(3)} (${Object.entries(c.byWorkload).map(([name, w]) => `${name} ${w.routedMicros.toFixed(1)} µs/stmt, ratio ${w.ratio.toFixed(3)}`).join('; ')})`);
    say(`  peer     Drizzle withReplicas ${p.rawMicros.toFixed(1)} µs/stmt, Drizzle over dbrouter ${p.routedMicros.toFixed(1)} µs/stmt, dbrouter/peer ${p.ratio.toFixed(3)}`);
  }
  say(`classifier: ${classifyResult.classify_per_sec.toLocaleString('en-US')} statements/s uncached (target ≥ 1,000,000), ${classifyResult.cached_per_sec.toLocaleString('en-US')} cached`);
  say(`routing decision (cached classification): ${decisions.map(([n, ns]) => `${n} replica${n > 1 ? 's' : ''} ${ns.toFixed(0)} ns`).join(', ')}; 64/1 = ${(decisions[2]![1] / decisions[0]![1]).toFixed(2)}`);
  if (json) {
    say(JSON.stringify({
      overhead: { postgres: pgResult === null ? null : round3(pgResult.ratio), mysql: myResult === null ? null : round3(myResult.ratio) },
      classify_per_sec: classifyResult.classify_per_sec,
      sql_comment: { postgres: pgResult === null ? null : round3(pgResult.comment.ratio), mysql: myResult === null ? null : round3(myResult.comment.ratio) },
      peers: { drizzle_with_replicas: { postgres: pgResult === null ? null : round3(pgResult.peer.ratio), mysql: myResult === null ? null : round3(myResult.peer.ratio) } },
    }));
  }
}
