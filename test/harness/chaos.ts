/**
 * Fault injection under load (issue 9, "Must show"): simulated users drive an application built the
 * way a user first writes it (`createCluster` with the local cluster's URLs and a consistency secret)
 * through dbrouter's routed pool, while faults run on a schedule against a real local cluster of
 * this run's own. At the end the whole history is checked; `runChaos` returns the counts and every
 * violation, and the test files (test/integration/chaos-*.test.ts) print and assert them.
 *
 *   const report = await runChaos({ label: 'postgres-sync', engine: 'postgres', sync: true });
 *   console.log(report.summary);
 *   assert.deepEqual(report.violations, []);
 *
 * Users. Each is a loop of requests; each request is a unit of work of its own carrying the token of
 * the user's last write (`cluster.withToken(token, …)`, as the HTTP middleware's cookie does). ~20 %
 * are writes of a fresh id of the user's own (half plain `pool.query`, half a transaction on a
 * checked-out client, the path of ORMs); the rest read back the user's highest id and the port of
 * the server that answered. Every request runs against a deadline (`opBoundMillis`): past it, it is
 * counted as past its bound and the user goes on.
 *
 * Faults (`faults: 'crash'`, the default), in order: replay paused on a replica, then resumed; a replica killed, then started again;
 * every replica paused (so they lag), the primary killed, the replica that has received the most
 * (by position, asked of each replica) promoted, the others resumed; the old primary started again
 * (it rejoins as a replica); on MariaDB a replica made to diverge (its `gtid_slave_pos` set past
 * anything the primary has: its IO thread stops with error 1236 while its position looks ahead).
 * With `faults: 'partition'` every node sits behind a TCP proxy of the run's own that can go silent
 * (a partition: no RST, no FIN): a replica, then the primary (no promotion; writes sent to it before
 * the monitor found it down are in flight and may fail with WRITE_OUTCOME_UNKNOWN, writes after
 * that wait for it), then both replicas (reads go to the primary), then a slow link to the primary.
 * Between faults the load runs until enough requests completed (polled, bounded), not for a fixed
 * sleep.
 *
 * The history check: an acknowledged write is one whose INSERT (or COMMIT) resolved; it is lost when
 * the final primary lacks its id. A read is a stale own read when it misses the highest id of that
 * user whose write request succeeded before the read began and present on the final primary (a write lost with the
 * old primary under asynchronous replication is counted as lost, not again as stale). Every failed
 * read is a violation; a failed write is allowed only when it was in flight while the primary was
 * being killed or before the app could know it was (until the monitor found it down: a pooled
 * connection's end is an event still to be read) and failed with code `WRITE_OUTCOME_UNKNOWN` —
 * never one whose connection was refused, which reached no server (a transaction cut before its COMMIT was
 * sent cannot have committed: there any typed `DbRouterError` is allowed; a checked-out client that
 * could not connect never reached a server and must wait instead). Also violations: an uncaught exception
 * (an `'error'` event nobody listens to ends up there), an unhandled rejection, a request past its
 * bound, a pool or cluster `end()` past its bound, and, with synchronous replication, any lost
 * acknowledged write.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createCluster, watchCluster, type Cluster, type ClusterHealth } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import type { Engine, LocalCluster } from '../../src/local/index.js';
import { describeError, divergeMariadbReplica, mostAdvancedReplica } from './chaos-positions.js';
import { ownCluster } from './clusters.js';
import { startProxy, type TcpProxy } from './tcp-proxy.js';
import { freeze, thawAll, type Frozen } from './freeze.js';

/** What one configuration runs. Defaults: 16 users, 20 % writes, a 90 s budget. */
export interface ChaosOptions {
  /** Names the configuration in the summary (`postgres-async`, `postgres-sync`, `mariadb`). */
  readonly label: string;
  readonly engine: Engine;
  /** PostgreSQL synchronous replication (`ANY 1 (*)`): then no acknowledged write may be lost. */
  readonly sync?: boolean;
  readonly users?: number;
  readonly writeShare?: number;
  /** Wall-time budget of the whole run, cluster start and teardown included. */
  readonly budgetMillis?: number;
  /** Extra output (the fault timeline, samples of each violation) goes here; the summary is returned. */
  readonly log?: (line: string) => void;
  /**
   * `'crash'` (default): pauses, kills, a promotion (the schedule above). `'partition'`: every node
   * behind a TCP proxy of this run's own that can go silent (no RST, no FIN: a partition, not a
   * crash) — a replica, then the primary (no promotion: it comes back), then both replicas, then a
   * slow primary link.
   */
  readonly faults?: 'crash' | 'partition' | 'soak';
  /**
   * `faults: 'soak'`: how long faults keep coming (default 60 s; the budget must leave room for
   * start and teardown). Each round picks one at random — replay paused on a replica, a replica
   * killed, a replica frozen (SIGSTOP: alive, silent), the primary frozen for a few seconds, the
   * primary killed and the most advanced replica promoted (with every replica lagging, half the
   * time), the old primary started again — and waits for every node to be back before the next.
   */
  readonly soakMillis?: number;
  /** Seeds the soak's choices, so that a run can be repeated (default 1). */
  readonly seed?: number;
  /** The soak's faults to choose from, by name (default: all of them; see `SOAK_FAULTS`). */
  readonly soakFaults?: readonly SoakFault[];
  /** Pause between one user's requests, ms (default 2–6: 16 users on a shared 2-core machine). */
  readonly thinkMillis?: readonly [number, number];
}

/** The faults `faults: 'soak'` chooses from. */
export const SOAK_FAULTS = [
  'pause a replica', 'kill a replica', 'freeze a replica', 'partition a replica', 'freeze the primary',
  'partition the primary', 'restart the primary', 'failover', 'failover with lagging replicas',
  'failover with a replica down',
] as const;
/** One of {@link SOAK_FAULTS}. */
export type SoakFault = (typeof SOAK_FAULTS)[number];

/** Counts of one run; `violations` lists each broken invariant with a sample (empty = all held). */
export interface ChaosReport {
  readonly label: string;
  readonly summary: string;
  readonly violations: string[];
  readonly counts: {
    reads: number;
    writes: number;
    acknowledgedWrites: number;
    lostAcknowledgedWrites: number;
    staleOwnReads: number;
    failedReads: number;
    failedWrites: number;
    /** Failed writes that were in flight on the killed primary and carry `WRITE_OUTCOME_UNKNOWN`. */
    allowedFailedWrites: number;
    /** `WRITE_OUTCOME_UNKNOWN` writes whose id is on the final primary (they had committed). */
    unknownButCommitted: number;
    pastBound: number;
    uncaught: number;
    unhandledRejections: number;
    /** The longest time from a promotion completing to the first write acknowledged after it, ms. */
    writeOutageAfterPromotionMillis: number | null;
    /** From the primary kill to the first write acknowledged after the promotion, ms. */
    writeOutageFromKillMillis: number | null;
  };
  /** Whether the test had to start `watchCluster` itself (the cluster did not watch by default). */
  readonly startedWatch: boolean;
  readonly elapsedMillis: number;
}

const SECRET = 'chaos-test-secret-0123456789abcdef';
const WRITE_OUTCOME_UNKNOWN = 'WRITE_OUTCOME_UNKNOWN';
/** `watchCluster` defaults (README): failoverTimeoutMillis 10000, checkTimeoutMillis 1000. */
const FAILOVER_TIMEOUT_MILLIS = 10_000;
const CHECK_TIMEOUT_MILLIS = 1000;
const OP_BOUND_MILLIS = FAILOVER_TIMEOUT_MILLIS + CHECK_TIMEOUT_MILLIS + 2000;
const END_BOUND_MILLIS = 10_000;
const TABLE = 'chaos_items';
/** Driver codes of a connection that provably never reached a server. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);
const ID_STRIDE = 1_000_000;

interface App {
  /**
   * One INSERT of `id` for `user`; `tx`: BEGIN/INSERT/COMMIT on a checked-out client, telling `step`
   * which statement it is at (a transaction cut before its COMMIT was sent cannot have committed).
   */
  write(user: number, id: number, tx: boolean, step: (s: TxStep) => void): Promise<void>;
  /** The user's highest id as the serving node sees it, and that node's port. */
  readOwn(user: number): Promise<{ maxId: number | null; port: number }>;
  end(): Promise<void>;
}

type TxStep = 'connect' | 'begin' | 'insert' | 'commit';

interface Op {
  readonly user: number;
  readonly kind: 'read' | 'write';
  readonly tx: boolean;
  readonly start: number;
  end: number;
  ok: boolean;
  /** A write whose INSERT/COMMIT resolved, even if the request failed afterwards (token). */
  acked: boolean;
  id?: number;
  maxId?: number | null;
  port?: number;
  /** Acknowledged ids of this user before this read began (ascending). */
  /** How many of the user's acknowledged writes (a prefix of an append-only list) preceded the read. */
  ackedBefore?: number;
  stage?: 'op' | 'token' | 'bound';
  /** Where a transaction was when it failed. */
  step?: TxStep;
  error?: string;
  code?: string;
  /** The error is a `DbRouterError`. */
  typed?: boolean;
  /** The driver's code under a `DbRouterError` (its `cause`). */
  causeCode?: string;
}

interface Mark { readonly at: number; readonly what: string }

function isTyped(e: unknown): boolean {
  return (e as { name?: unknown } | null)?.name === 'DbRouterError';
}

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `condition` every 10 ms for at most `ms`; whether it held. */
async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  const t0 = performance.now();
  while (!condition()) {
    if (performance.now() - t0 > ms) return false;
    await sleep(10);
  }
  return true;
}

/** Resolves with the outcome of `p` or `'timeout'` after `ms`, leaving no timer behind. */
async function within<T>(p: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), ms); });
  try {
    return await Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function pgApp(cluster: Cluster): Promise<App> {
  // No 'error' listener: the first configuration a user writes has none, and dbrouter must not need one.
  const pool = createPgPool(cluster);
  await pool.query(`CREATE TABLE ${TABLE} (id int PRIMARY KEY, user_id int NOT NULL)`);
  await pool.query(`CREATE INDEX ${TABLE}_user ON ${TABLE} (user_id, id)`);
  return {
    write: async (user, id, tx, step) => {
      if (!tx) {
        await pool.query(`INSERT INTO ${TABLE} (id, user_id) VALUES ($1, $2)`, [id, user]);
        return;
      }
      step('connect');
      const client = await pool.connect();
      try {
        step('begin');
        await client.query('BEGIN');
        step('insert');
        await client.query(`INSERT INTO ${TABLE} (id, user_id) VALUES ($1, $2)`, [id, user]);
        step('commit');
        await client.query('COMMIT');
        client.release();
      } catch (e) {
        client.release(true);
        throw e;
      }
    },
    readOwn: async (user) => {
      const { rows } = await pool.query<{ max_id: number | null; port: number }>(
        `SELECT (SELECT max(id) FROM ${TABLE} WHERE user_id = $1) AS max_id, inet_server_port() AS port`,
        [user],
      );
      return { maxId: rows[0]!.max_id === null ? null : Number(rows[0]!.max_id), port: Number(rows[0]!.port) };
    },
    end: () => pool.end(),
  };
}

async function mysqlApp(cluster: Cluster): Promise<App> {
  const pool = createMysqlPool(cluster);
  await pool.query(`CREATE TABLE ${TABLE} (id INT PRIMARY KEY, user_id INT NOT NULL, KEY ${TABLE}_user (user_id, id)) ENGINE=InnoDB`);
  return {
    write: async (user, id, tx, step) => {
      if (!tx) {
        await pool.query(`INSERT INTO ${TABLE} (id, user_id) VALUES (?, ?)`, [id, user]);
        return;
      }
      step('connect');
      const conn = await pool.getConnection();
      try {
        step('begin');
        await conn.beginTransaction();
        step('insert');
        await conn.query(`INSERT INTO ${TABLE} (id, user_id) VALUES (?, ?)`, [id, user]);
        step('commit');
        await conn.commit();
        conn.release();
      } catch (e) {
        conn.destroy();
        throw e;
      }
    },
    readOwn: async (user) => {
      const [rows] = await pool.query(`SELECT (SELECT max(id) FROM ${TABLE} WHERE user_id = ?) AS max_id, @@port AS port`, [user]);
      const row = (rows as { max_id: number | null; port: number }[])[0]!;
      return { maxId: row.max_id === null ? null : Number(row.max_id), port: Number(row.port) };
    },
    end: () => pool.end(),
  };
}

/** Every id in the table, read from the current primary over a plain driver connection. */
async function idsOnPrimary(local: LocalCluster): Promise<Set<number>> {
  const url = local.databases[local.primaryAlias]!.url;
  if (local.engine === 'postgres') {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return new Set((await client.query<{ id: number }>(`SELECT id FROM ${TABLE}`)).rows.map((r) => Number(r.id)));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  const conn = await mysql.createConnection({ uri: url, connectTimeout: 5000 });
  conn.on('error', () => undefined);
  try {
    const [rows] = await conn.query(`SELECT id FROM ${TABLE}`);
    return new Set((rows as { id: number }[]).map((r) => Number(r.id)));
  } finally {
    await conn.end().catch(() => undefined);
  }
}

// ---- the run -------------------------------------------------------------------------------------

/** Starts a cluster, runs users and faults, checks the history, stops every server (also on failure). */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const t0 = performance.now();
  const budget = options.budgetMillis ?? 90_000;
  const hardStop = t0 + budget - END_BOUND_MILLIS - 5000;
  const log = options.log ?? (() => undefined);
  const users = options.users ?? 16;
  const writeShare = options.writeShare ?? 0.2;
  const think = options.thinkMillis ?? [2, 6];
  const violations: string[] = [];
  const marks: Mark[] = [];
  const mark = (what: string) => marks.push({ at: performance.now(), what });
  const rel = (at: number) => `${((at - t0) / 1000).toFixed(2)}s`;

  const uncaught: string[] = [];
  const rejections: string[] = [];
  const onUncaught = (e: unknown) => uncaught.push(describeError(e));
  const onRejection = (e: unknown) => rejections.push(describeError(e));
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onRejection);

  let local: LocalCluster | undefined;
  let cluster: Cluster | undefined;
  let health: ClusterHealth | undefined;
  let app: App | undefined;
  const proxies = new Map<string, TcpProxy>();
  try {
    local = await ownCluster(options.engine, { replicas: 2, ...(options.sync ? { sync: true } : {}) });
    const l = local;
    mark(`cluster up (${l.primaryAlias} + ${l.replicaAliases.join(', ')})`);
    const aliasOfPort = new Map(Object.entries(l.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));

    // Partitions: each node behind a proxy that can go silent; the servers still report their own port.
    if (options.faults === 'partition' || options.faults === 'soak') {
      for (const [alias, d] of Object.entries(l.databases)) proxies.set(alias, await startProxy(Number(new URL(d.url).port)));
    }
    const urlOf = (alias: string, url: string) => {
      const proxy = proxies.get(alias);
      if (proxy === undefined) return url;
      const u = new URL(url);
      u.port = String(proxy.port);
      return u.toString();
    };
    // The configuration a user writes first: URLs (roles discovered), a secret for tokens.
    cluster = createCluster({
      databases: Object.fromEntries(Object.entries(l.databases).map(([alias, d]) => [alias, urlOf(alias, d.url)])),
      consistency: { secret: SECRET },
    });
    const downAt = new Map<string, number>();
    /** Every node-down, in order: a killed primary's window lasts until the app could know it died. */
    const downs: { alias: string; at: number }[] = [];
    cluster.on('nodeState', (alias: string, state: string) => {
      if (state === 'down') {
        downAt.set(alias, performance.now());
        downs.push({ alias, at: performance.now() });
      }
    });
    app = l.engine === 'postgres' ? await pgApp(cluster) : await mysqlApp(cluster);
    // Drop these lines once a cluster watches its nodes by default (issue 9 item 4): then status()
    // answers after first use and the test starts nothing.
    const startedWatch = cluster.status() === undefined;
    if (startedWatch) {
      health = watchCluster(cluster);
      await health.start();
    }
    await l.waitForAllReplicas();

    // ---- users
    const ops: Op[] = [];
    /** Per user, ids whose request succeeded (the user saw the write acknowledged). */
    const acked: number[][] = Array.from({ length: users }, () => []);
    const unknownIds: number[] = [];
    let running = true;
    const user = async (u: number) => {
      let token: string | undefined;
      let seq = 0;
      while (running && performance.now() < hardStop) {
        const write = Math.random() < writeShare;
        const tx = write && Math.random() < 0.5;
        const op: Op = { user: u, kind: write ? 'write' : 'read', tx, start: performance.now(), end: 0, ok: false, acked: false };
        if (write) op.id = (u + 1) * ID_STRIDE + ++seq;
        else op.ackedBefore = acked[u]!.length;
        ops.push(op);
        const c = cluster!;
        const request = c.withToken(token, async () => {
          if (write) {
            try {
              await app!.write(u, op.id!, tx, (s) => { op.step = s; });
            } catch (e) {
              op.stage = 'op';
              throw e;
            }
            op.acked = true;
            op.stage = 'token';
            const next = await c.consistencyToken();
            op.stage = undefined;
            return next;
          }
          const seen = await app!.readOwn(u);
          op.maxId = seen.maxId;
          op.port = seen.port;
          return undefined;
        });
        const outcome = await within(request, OP_BOUND_MILLIS);
        op.end = performance.now();
        if (outcome === 'timeout') {
          op.stage = 'bound';
          op.error = `no answer within ${OP_BOUND_MILLIS} ms`;
          request.catch(() => undefined);
        } else if ('error' in outcome) {
          op.error = describeError(outcome.error);
          op.code = codeOf(outcome.error);
          op.typed = isTyped(outcome.error);
          op.causeCode = codeOf((outcome.error as { cause?: unknown } | null)?.cause);
          if (op.code === WRITE_OUTCOME_UNKNOWN) unknownIds.push(op.id!);
        } else {
          op.ok = true;
          if (write) {
            // Acknowledged to the user: from now on every read of theirs must see it.
            acked[u]!.push(op.id!);
            token = outcome.value ?? token;
          }
        }
        // Think time: 16 users must not saturate a shared 2-core machine.
        await sleep(think[0] + Math.random() * (think[1] - think[0]));
      }
    };
    const loops = Array.from({ length: users }, (_, u) => user(u));

    /** Lets the load run until `count` more requests completed (at least `minMillis`, at most `maxMillis`). */
    const load = async (count: number, minMillis: number, maxMillis: number, what = 'requests') => {
      const from = performance.now();
      const done = () => ops.filter((o) => o.end > from && (what === 'requests' || (o.kind === 'write' && o.ok))).length;
      while (performance.now() - from < maxMillis && performance.now() < hardStop) {
        if (done() >= count && performance.now() - from >= minMillis) return true;
        await sleep(20);
      }
      return done() >= count;
    };
    const faultErrors: string[] = [];
    const fault = async (what: string, fn: () => Promise<unknown>): Promise<boolean> => {
      if (performance.now() > hardStop) {
        violations.push(`schedule: out of time before "${what}"`);
        return false;
      }
      mark(what);
      try {
        await fn();
        return true;
      } catch (e) {
        // A fault that did not happen leaves the run proving less than it claims: a violation.
        faultErrors.push(`${what}: ${describeError(e)}`);
        mark(`${what} FAILED`);
        return false;
      }
    };

    // ---- the schedule
    await load(200, 500, 5000);
    const [r1, r2] = l.replicaAliases as [string, string];
    /** Windows in which a write on the primary could be cut: [start, end] (the kill; a silence until the primary was found down). */
    const cutWindows: [number, number][] = [];
    /** Primary kills: the node, when the kill began and when the process was gone. */
    const killWindows: { alias: string; from: number; killed: number }[] = [];
    const stateOf = (alias: string) => cluster!.nodeState(alias);
    /** Waits (bounded) until every one of `aliases` is in `state`: marked when so, a violation when not. */
    const reach = async (aliases: readonly string[], state: string, ms: number, what: string) => {
      const held = await waitFor(() => aliases.every((a) => stateOf(a) === state), ms);
      if (held) mark(`${what} ${state}`);
      else violations.push(`${what}: not ${state} within ${ms} ms (at ${rel(performance.now())}; ${aliases.map((a) => `${a} ${stateOf(a)}`).join(', ')})`);
      return held;
    };
    if (options.faults === 'partition') {
      const primary = l.primaryAlias;
      /** Silences `aliases` until each is found down (bounded), lets the load run, heals, waits for them back. */
      const partition = async (aliases: readonly string[], what: string) => {
        const from = performance.now();
        for (const a of aliases) downAt.delete(a);
        await fault(`silence ${what}`, () => Promise.resolve(aliases.forEach((a) => proxies.get(a)!.silence())));
        await reach(aliases, 'down', 10_000, `${what} (silent)`);
        if (aliases.includes(primary)) cutWindows.push([from, downAt.get(primary) ?? performance.now()]);
        await load(aliases.includes(primary) ? 40 : 100, 1000, 5000);
        await fault(`heal ${what}`, () => Promise.resolve(aliases.forEach((a) => proxies.get(a)!.restore())));
        await reach(aliases, 'up', 15_000, `${what} (healed)`);
        await load(aliases.includes(primary) ? 30 : 100, 500, 8000, aliases.includes(primary) ? 'writes' : 'requests');
      };
      await partition([r1], `replica ${r1}`);
      await partition([primary], `the primary ${primary}`);
      await partition([r1, r2], `both replicas`);
      await fault(`slow link to the primary ${primary} (50 ms each way)`, () => Promise.resolve(proxies.get(primary)!.delay(50)));
      await load(30, 2000, 8000, 'writes');
      await fault('link to the primary fast again', () => Promise.resolve(proxies.get(primary)!.delay(0)));
      await load(100, 500, 3000);
    }
    /** Each promotion: when the primary was killed and when the promotion completed. */
    const promotions: { kill: number; promoted: number }[] = [];
    /** Kills the primary (optionally with every replica lagging), promotes the most advanced replica, resumes the rest. */
    const failover = async (late: boolean, writesBack = true): Promise<string> => {
      if (late) {
        const up = new Set((await l.status()).filter((n) => n.up).map((n) => n.alias));
        for (const r of l.replicaAliases.filter((a) => up.has(a))) await fault(`pause replay on ${r} (replicas lag)`, () => l.pause(r));
        await load(30, 800, 5000, 'writes');
      }
      const oldPrimary = l.primaryAlias;
      const killStart = performance.now();
      const killed = await fault(`kill the primary ${oldPrimary}`, () => l.kill(oldPrimary));
      killWindows.push({ alias: oldPrimary, from: killStart, killed: performance.now() });
      if (killed) {
        let target: string | undefined;
        await fault('find the most advanced replica', async () => {
          const found = await mostAdvancedReplica(l);
          target = found.alias;
          log(`  positions at the kill: ${Object.entries(found.positions).map(([a, p]) => `${a}: ${p}`).join('; ')} → promote ${found.alias}`);
        });
        if (target !== undefined) {
          const t = target;
          if (await fault(`promote ${t}`, () => l.promote(t))) {
            promotions.push({ kill: killStart, promoted: performance.now() });
            mark(`promoted ${t}`);
          }
        }
        for (const r of l.replicaAliases) {
          if ((await l.status()).some((n) => n.alias === r && n.up && n.paused)) await fault(`resume ${r}`, () => l.resume(r));
        }
      }
      if (writesBack && !(await load(30, 1000, 8000, 'writes'))) violations.push(`fewer than 30 writes acknowledged within 8 s after the promotion at ${rel(performance.now())}`);
      return oldPrimary;
    };
    /** Random faults, one at a time, until `soakMillis` ran out (see ChaosOptions.soakMillis). */
    const soak = async () => {
      const rand = seeded(options.seed ?? 1);
      const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
      const soakEnd = Math.min(performance.now() + (options.soakMillis ?? 60_000), hardStop - 40_000);
      const pidOf = async (alias: string) => {
        const pid = (await l.status()).find((n) => n.alias === alias)?.pid;
        if (pid === null || pid === undefined) throw new Error(`${alias} has no running server`);
        return pid;
      };
      const actions = options.soakFaults ?? SOAK_FAULTS;
      let rounds = 0;
      while (performance.now() < soakEnd) {
        rounds += 1;
        const action = pick(actions);
        const primary = l.primaryAlias;
        const r = pick(l.replicaAliases);
        mark(`round ${rounds}: ${action}`);
        switch (action) {
          case 'pause a replica':
            await fault(`pause replay on ${r}`, () => l.pause(r));
            await load(30, 500 + rand() * 2000, 6000, 'writes');
            await fault(`resume ${r}`, () => l.resume(r));
            break;
          case 'kill a replica':
            await fault(`kill ${r}`, () => l.kill(r));
            await load(100, 300 + rand() * 1500, 4000);
            await fault(`start ${r}`, () => l.start(r, 15_000));
            break;
          case 'freeze a replica': {
            let frozen: Frozen | undefined;
            await fault(`freeze ${r}`, async () => { frozen = freeze(await pidOf(r)); });
            await reach([r], 'down', 10_000, `frozen ${r}`);
            await load(100, 300 + rand() * 1500, 4000);
            await fault(`thaw ${r}`, () => Promise.resolve(frozen?.thaw()));
            break;
          }
          case 'partition a replica':
            await fault(`silence ${r}`, () => Promise.resolve(proxies.get(r)!.silence()));
            await reach([r], 'down', 10_000, `silent ${r}`);
            await load(100, 300 + rand() * 1500, 4000);
            await fault(`heal ${r}`, () => Promise.resolve(proxies.get(r)!.restore()));
            break;
          case 'freeze the primary':
          case 'partition the primary': {
            // Shorter than failoverTimeoutMillis: writes issued once it is found down wait and succeed.
            const from = performance.now();
            downAt.delete(primary);
            let frozen: Frozen | undefined;
            const frozenNotSilent = action === 'freeze the primary';
            if (frozenNotSilent) await fault(`freeze the primary ${primary}`, async () => { frozen = freeze(await pidOf(primary)); });
            else await fault(`silence the primary ${primary}`, () => Promise.resolve(proxies.get(primary)!.silence()));
            await waitFor(() => stateOf(primary) === 'down', 500 + rand() * 3000);
            if (frozenNotSilent) await fault(`thaw the primary ${primary}`, () => Promise.resolve(frozen?.thaw()));
            else await fault(`heal the primary ${primary}`, () => Promise.resolve(proxies.get(primary)!.restore()));
            // Writes sent to it before it was found down were in flight: they may be cut.
            cutWindows.push([from, downAt.get(primary) ?? performance.now()]);
            if (!(await load(30, 500, 8000, 'writes'))) violations.push(`fewer than 30 writes acknowledged within 8 s after the primary came back at ${rel(performance.now())}`);
            break;
          }
          case 'restart the primary': {
            // Killed and started again, no promotion: writes in flight may be cut, later ones wait.
            const from = performance.now();
            await fault(`kill the primary ${primary}`, () => l.kill(primary));
            killWindows.push({ alias: primary, from, killed: performance.now() });
            await load(20, 200 + rand() * 1000, 3000);
            await fault(`start the primary ${primary} again`, () => l.start(primary, 30_000));
            if (!(await load(30, 500, 10_000, 'writes'))) violations.push(`fewer than 30 writes acknowledged within 10 s after the primary restarted at ${rel(performance.now())}`);
            break;
          }
          case 'failover':
          case 'failover with lagging replicas': {
            const old = await failover(action !== 'failover');
            await fault(`start the old primary ${old} (rejoins as a replica)`, () => l.start(old, 30_000));
            break;
          }
          case 'failover with a replica down': {
            // Two faults at once: a replica is dead when the primary dies; the other is promoted.
            await fault(`kill ${r}`, () => l.kill(r));
            await reach([r], 'down', 10_000, `killed ${r}`);
            // With synchronous replication the new primary has no standby left: its commits wait
            // (PostgreSQL's promise) until one follows it, so writes are checked after the restarts.
            const old = await failover(rand() < 0.5, !options.sync);
            await fault(`start the old primary ${old} (rejoins as a replica)`, () => l.start(old, 30_000));
            await fault(`start ${r} (follows the new primary)`, () => l.start(r, 30_000));
            if (options.sync && !(await load(30, 500, 10_000, 'writes'))) violations.push(`fewer than 30 writes acknowledged within 10 s after a standby followed the new primary at ${rel(performance.now())}`);
            break;
          }
        }
        // The next fault only once every node serves again.
        await reach(Object.keys(l.databases), 'up', 30_000, `round ${rounds}: every node`);
        await load(100, 300, 4000);
      }
      log(`  soak: ${rounds} rounds (seed ${options.seed ?? 1})`);
    };
    if (options.faults === 'soak') await soak();
    if (options.faults === undefined || options.faults === 'crash') {
    await fault(`pause replay on ${r1}`, () => l.pause(r1));
    await load(30, 1500, 5000, 'writes');
    await fault(`resume ${r1}`, () => l.resume(r1));
    await load(100, 500, 3000);

    await fault(`kill ${r2}`, () => l.kill(r2));
    await load(100, 1000, 3000);
    await fault(`start ${r2}`, () => l.start(r2, 15_000));
    await load(100, 500, 3000);

    const oldPrimary = await failover(true);

    await fault(`start the old primary ${oldPrimary} (rejoins as a replica)`, () => l.start(oldPrimary, 15_000));
    await load(100, 1000, 4000);

    if (l.engine === 'mariadb') {
      const healthy = l.replicaAliases.filter((a) => a !== oldPrimary);
      const victim = healthy[0] ?? l.replicaAliases[0]!;
      await fault(`diverge ${victim} (gtid_slave_pos past the primary)`, async () => {
        const pos = await divergeMariadbReplica(l, victim);
        mark(`${victim} gtid_slave_pos = ${pos}`);
      });
      await load(60, 2000, 5000, 'writes');
    }
    }

    // ---- stop the users; each request is bounded, so this is too
    running = false;
    mark('users stopping');
    await Promise.all(loops);
    mark('users stopped');

    // ---- the history check
    const present = await idsOnPrimary(l);
    const reads = ops.filter((o) => o.kind === 'read');
    const writes = ops.filter((o) => o.kind === 'write');
    const ackedIds = writes.filter((o) => o.acked).map((o) => o.id!);
    const lost = ackedIds.filter((id) => !present.has(id));
    /** The highest id the user saw acknowledged before the read and that the final primary has. */
    const requiredId = (o: Op) => acked[o.user]!.slice(0, o.ackedBefore ?? 0).reverse().find((id) => present.has(id));
    const stale = reads.filter((o) => {
      if (!o.ok) return false;
      const required = requiredId(o);
      return required !== undefined && (o.maxId === null || o.maxId === undefined || o.maxId < required);
    });
    const failedReads = reads.filter((o) => !o.ok);
    const failedWrites = writes.filter((o) => !o.ok);
    // In flight on the primary while it was killed, or sent to it after it went silent and before it was found down.
    // A killed primary: from the kill until the app could know (its connections' ends are events still
    // to be read when the kill returns): the first node-down of it after the kill, at most 15 s on.
    for (const k of killWindows) {
      const found = downs.find((d) => d.alias === k.alias && d.at >= k.from)?.at ?? k.killed;
      cutWindows.push([k.from, Math.min(Math.max(k.killed, found), k.from + 15_000)]);
    }
    const inFlightOnKill = (o: Op) => cutWindows.some(([from, to]) => o.start <= to && o.end >= from);
    // A write in flight on the killed primary may fail, and only so: with WRITE_OUTCOME_UNKNOWN when
    // it may have committed (a plain INSERT, a COMMIT); a transaction cut before its COMMIT was sent
    // cannot have committed, so there any typed DbRouterError is an honest answer. A checked-out
    // client that cannot connect never reached a server: it must wait for a primary (item 2).
    const allowedFailure = (o: Op) => {
      if (o.stage !== 'op' || !inFlightOnKill(o)) return false;
      // "A write refused before it reached any server is never reported this way" (item 7).
      if (o.code === WRITE_OUTCOME_UNKNOWN && NEVER_SENT.has(o.causeCode ?? '')) return false;
      if (!o.tx || o.step === 'commit') return o.code === WRITE_OUTCOME_UNKNOWN;
      return (o.step === 'begin' || o.step === 'insert') && o.typed === true;
    };
    const allowed = failedWrites.filter(allowedFailure);
    const disallowed = failedWrites.filter((o) => !allowed.includes(o));
    const pastBound = ops.filter((o) => o.stage === 'bound');
    const unknownCommitted = unknownIds.filter((id) => present.has(id)).length;
    const firstAckAfter = (at: number) => writes.filter((o) => o.acked && o.end > at).reduce<number | undefined>((m, o) => (m === undefined || o.end < m ? o.end : m), undefined);
    let outage: number | null = null;
    let outageFromKill: number | null = null;
    for (const { kill, promoted } of promotions) {
      const first = firstAckAfter(promoted);
      if (first === undefined) {
        violations.push(`no write was acknowledged after the promotion at ${rel(promoted)}`);
        continue;
      }
      outage = Math.max(outage ?? 0, Math.round(first - promoted));
      outageFromKill = Math.max(outageFromKill ?? 0, Math.round(first - kill));
    }

    const where = (o: Op) => (o.port !== undefined ? aliasOfPort.get(o.port) ?? `port ${o.port}` : '?');
    const sample = (list: Op[], show: (o: Op) => string) => list.slice(0, 3).map(show).join(' | ');
    const phaseOf = (at: number) => [...marks].reverse().find((m) => m.at <= at)?.what ?? 'start';
    if (options.sync && lost.length > 0) violations.push(`${lost.length} acknowledged writes lost with synchronous replication (ids ${lost.slice(0, 5).join(', ')})`);
    if (stale.length > 0) {
      const byNode = new Map<string, number>();
      for (const o of stale) byNode.set(where(o), (byNode.get(where(o)) ?? 0) + 1);
      violations.push(
        `${stale.length} stale own reads (by node: ${[...byNode].map(([a, n]) => `${a} ${n}`).join(', ')}); e.g. ` +
          sample(stale, (o) => `user ${o.user} saw ${o.maxId} < ${requiredId(o)} on ${where(o)} at ${rel(o.start)} during "${phaseOf(o.start)}"`),
      );
    }
    if (failedReads.length > 0) violations.push(`${failedReads.length} failed reads: ${summarizeErrors(failedReads, phaseOf)}`);
    if (disallowed.length > 0) {
      violations.push(
        `${disallowed.length} writes failed other than in flight on the killed or silenced primary with ${WRITE_OUTCOME_UNKNOWN}: ${summarizeErrors(disallowed, phaseOf, (o) => `${o.tx ? `tx at ${o.step ?? '?'}` : 'query'}${o.stage === 'token' ? ' (token after the write)' : ''}${inFlightOnKill(o) ? ' in flight on the killed primary' : ''}${o.causeCode ? ` (cause ${o.causeCode})` : ''}`)}`,
      );
    }
    if (pastBound.length > 0) violations.push(`${pastBound.length} requests past their bound of ${OP_BOUND_MILLIS} ms: ${summarizeErrors(pastBound, phaseOf)}`);
    if (uncaught.length > 0) violations.push(`${uncaught.length} uncaught exceptions (an unhandled 'error' event lands here): ${[...new Set(uncaught)].slice(0, 3).join(' | ')}`);
    if (rejections.length > 0) violations.push(`${rejections.length} unhandled rejections: ${[...new Set(rejections)].slice(0, 3).join(' | ')}`);
    for (const e of faultErrors) violations.push(`fault failed: ${e}`);

    // ---- teardown of the app, bounded
    const ending = await within(app.end(), END_BOUND_MILLIS);
    app = undefined;
    if (ending === 'timeout') violations.push(`pool.end() past ${END_BOUND_MILLIS} ms`);
    const stopping = await within((async () => { await health?.stop(); await cluster.end(); })(), END_BOUND_MILLIS);
    health = undefined;
    cluster = undefined;
    if (stopping === 'timeout') violations.push(`cluster.end() past ${END_BOUND_MILLIS} ms`);

    for (const m of marks) log(`  ${rel(m.at)} ${m.what}`);
    if (lost.length > 0) {
      // Where the lost writes were acknowledged: the phase (and time) of each group.
      const lostSet = new Set(lost);
      const byPhase = new Map<string, { n: number; first: number; last: number }>();
      for (const o of writes) {
        if (!o.acked || !lostSet.has(o.id!)) continue;
        const key = phaseOf(o.end);
        const g = byPhase.get(key) ?? { n: 0, first: o.end, last: o.end };
        g.n += 1;
        g.last = o.end;
        byPhase.set(key, g);
      }
      for (const [phase, g] of byPhase) log(`  lost: ${g.n} acknowledged during "${phase}" (${rel(g.first)}–${rel(g.last)})`);
    }
    const served = new Map<string, number>();
    for (const o of reads) if (o.ok) served.set(where(o), (served.get(where(o)) ?? 0) + 1);
    log(`  reads served by: ${[...served].sort().map(([a, n]) => `${a} ${n}`).join(', ')}`);
    const elapsed = performance.now() - t0;
    const counts = {
      reads: reads.length,
      writes: writes.length,
      acknowledgedWrites: ackedIds.length,
      lostAcknowledgedWrites: lost.length,
      staleOwnReads: stale.length,
      failedReads: failedReads.length,
      failedWrites: failedWrites.length,
      allowedFailedWrites: allowed.length,
      unknownButCommitted: unknownCommitted,
      pastBound: pastBound.length,
      uncaught: uncaught.length,
      unhandledRejections: rejections.length,
      writeOutageAfterPromotionMillis: outage,
      writeOutageFromKillMillis: outageFromKill,
    };
    const summary =
      `chaos ${options.label}: ${users} users, ${reads.length} reads + ${writes.length} writes in ${(elapsed / 1000).toFixed(1)} s | ` +
      `lost acked writes ${lost.length}/${ackedIds.length}${options.sync ? ' (sync: must be 0)' : ' (async: reported)'} | ` +
      `stale own reads ${stale.length} | failed reads ${failedReads.length} | ` +
      `failed writes ${failedWrites.length} (allowed: in flight on the ${options.faults === 'partition' ? 'primary as it went silent' : 'killed primary'} + ${WRITE_OUTCOME_UNKNOWN} ${allowed.length}; ` +
      `${WRITE_OUTCOME_UNKNOWN} that had committed ${unknownCommitted}) | past bound ${pastBound.length} | ` +
      `uncaught ${uncaught.length} | unhandled rejections ${rejections.length} | ` +
      `write outage after promotion ${outage ?? '-'} ms (from kill ${outageFromKill ?? '-'} ms) | ` +
      `watch: ${startedWatch ? 'started by the test' : 'on by default'}`;
    return { label: options.label, summary, violations, counts, startedWatch, elapsedMillis: elapsed };
  } finally {
    // Also on failure: nothing may outlive the run.
    if (app) await within(app.end(), END_BOUND_MILLIS);
    if (health) await within(health.stop(), END_BOUND_MILLIS);
    if (cluster) await within(cluster.end(), END_BOUND_MILLIS);
    thawAll();
    for (const p of proxies.values()) await p.close();
    if (local) await local.down();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onRejection);
  }
}

/** A small seeded generator (mulberry32): the same seed, the same choices. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function summarizeErrors(list: Op[], phaseOf: (at: number) => string, tag: (o: Op) => string = () => ''): string {
  const groups = new Map<string, number>();
  for (const o of list) {
    const t = tag(o);
    const key = `${o.kind}${t ? ` ${t}` : ''} ending during "${phaseOf(o.end)}": ${o.error ?? '?'}`;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  return [...groups].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, n]) => `${n} × ${k}`).join(' | ');
}
