/**
 * Simulated users against a routed pool, with a history check: each operation is a request of its
 * own (`cluster.withToken(token, …)`), carrying the user's consistency token from request to request
 * as the HTTP middleware would. Writes insert `(user, seq)` rows with ids of their own; reads read the
 * user's highest seq and `inet_server_addr()`, so the history says where each read ran and what it saw.
 * Every operation is bounded (`opBoundMillis`): one that outlives it is recorded as `hung` and the
 * user moves on, so one black-holed connection cannot stop the load.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Cluster, QueryLogEntry } from '../../src/index.js';
import type { RoutedPgPool } from '../../src/engines/postgres/index.js';
import { isDbRouterError } from '../../src/index.js';
import { hostOf, tick, type Host } from './topology.js';

/** One operation in the history. `at`: when it ended (performance.now()). */
export interface Op {
  kind: 'read' | 'write';
  user: number;
  start: number;
  at: number;
  ok: boolean;
  hung?: boolean;
  host?: Host | undefined;
  /** write: the seq written; read: the user's highest acknowledged seq when the read began. */
  seq: number;
  /** read: the highest seq it saw. */
  saw?: number;
  error?: string;
  code?: string;
  /** A failed operation: the statements dbrouter ran for it (alias:reason, ! = failed), the stage, the cause chain. */
  trace?: string;
}

/** The statements of the operation running in this async context ('route' events). */
const traces = new AsyncLocalStorage<string[]>();

/** `alias:reason[!]` with the time since `t0`. */
function describeFailure(e: unknown, steps: string[], stage: string): string {
  const chain: string[] = [];
  for (let c: unknown = e, i = 0; c instanceof Error && i < 4; c = c.cause, i++) chain.push(`${(c as { code?: string }).code ?? c.name}: ${c.message.slice(0, 80)}`);
  return `stage ${stage}; ran [${steps.join(' ')}]; ${chain.join(' <- ')}`;
}

export const TABLE = 'ha_history';

export async function createTable(pool: RoutedPgPool): Promise<void> {
  await pool.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (u int NOT NULL, seq int NOT NULL, PRIMARY KEY (u, seq))`);
}

export class Workload {
  readonly ops: Op[] = [];
  #running = true;
  #loops: Promise<void>[] = [];
  #pending = new Set<Promise<unknown>>();

  constructor(
    readonly cluster: Cluster,
    readonly pool: RoutedPgPool,
    options: { users: number; writeShare: number; readers?: number; pauseMillis?: number; opBoundMillis?: number; firstUser?: number; arrivalMillis?: number },
  ) {
    cluster.on('route', (e: QueryLogEntry) => traces.getStore()?.push(`${e.alias}:${e.reason}${e.failed ? '!' : ''}@${Math.round(e.durationMillis)}`));
    const bound = options.opBoundMillis ?? 30_000;
    const first = options.firstUser ?? 0;
    for (let i = 0; i < options.users; i++) this.#loops.push(this.#user(first + i, options.writeShare, options.pauseMillis ?? 10, bound));
    // Readers only read (other requests of the app): they keep going while every writing user waits for a primary.
    for (let i = 0; i < (options.readers ?? 0); i++) this.#loops.push(this.#user(first + options.users + i, 0, options.pauseMillis ?? 10, bound));
    // Open-loop writes: a new request every `arrivalMillis` whatever the earlier ones are doing, as new
    // visitors keep arriving while old requests wait. It measures when writes come back after a fault
    // even while every closed-loop user is stuck in a request.
    if (options.arrivalMillis) this.#loops.push(this.#arrivals(first + 100_000, options.arrivalMillis, bound));
  }

  async #arrivals(firstUser: number, every: number, bound: number): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    let user = firstUser;
    while (this.#running) {
      if (inFlight.size < 100) {
        const u = user++;
        const start = performance.now();
        const steps: string[] = [];
        const op = traces.run(steps, () => this.cluster.withToken(undefined, () => this.pool.query<{ a: string }>(`INSERT INTO ${TABLE} (u, seq) VALUES ($1, 1) RETURNING host(inet_server_addr()) AS a`, [u])));
        const p = Promise.race([op, new Promise<'hung'>((r) => setTimeout(() => r('hung'), bound).unref())]).then(
          (res) => {
            if (res === 'hung') this.ops.push({ kind: 'write', user: u, start, at: performance.now(), ok: false, hung: true, seq: 1, error: `no answer within ${bound} ms` });
            else this.ops.push({ kind: 'write', user: u, start, at: performance.now(), ok: true, host: hostOf(res.rows[0]!.a), seq: 1 });
          },
          (e: unknown) => {
            const code = isDbRouterError(e) ? e.code : (e as { code?: string }).code;
            this.ops.push({ kind: 'write', user: u, start, at: performance.now(), ok: false, seq: 1, error: (e as Error).message, trace: describeFailure(e, steps, 'insert'), ...(code ? { code } : {}) });
          },
        );
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
      await tick(every);
    }
  }

  async #user(user: number, writeShare: number, pauseMillis: number, bound: number): Promise<void> {
    let token: string | undefined;
    let acked = 0;
    let next = 0;
    while (this.#running) {
      const write = Math.random() < writeShare;
      const seq = write ? ++next : acked;
      const start = performance.now();
      const steps: string[] = [];
      let stage = write ? 'insert' : 'select';
      const op = traces.run(steps, () => this.cluster.withToken(token, async () => {
        if (write) {
          const { rows } = await this.pool.query<{ a: string }>(`INSERT INTO ${TABLE} (u, seq) VALUES ($1, $2) RETURNING host(inet_server_addr()) AS a`, [user, seq]);
          stage = 'token';
          return { a: rows[0]!.a, saw: undefined, token: await this.cluster.consistencyToken() };
        }
        const { rows } = await this.pool.query<{ a: string; m: number }>(
          `SELECT host(inet_server_addr()) AS a, coalesce(max(seq), 0)::int AS m FROM ${TABLE} WHERE u = $1`,
          [user],
        );
        return { a: rows[0]!.a, saw: rows[0]!.m, token: undefined };
      }));
      this.#pending.add(op);
      void op.finally(() => this.#pending.delete(op)).catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), bound)));
      try {
        const r = await Promise.race([op, hung]);
        if (r === 'hung') {
          this.ops.push({ kind: write ? 'write' : 'read', user, start, at: performance.now(), ok: false, hung: true, seq, error: `no answer within ${bound} ms` });
        } else {
          if (write) {
            acked = seq;
            token = r.token ?? token;
          }
          this.ops.push({ kind: write ? 'write' : 'read', user, start, at: performance.now(), ok: true, host: hostOf(r.a), seq, ...(r.saw !== undefined ? { saw: r.saw } : {}) });
        }
      } catch (e) {
        const code = isDbRouterError(e) ? e.code : (e as { code?: string }).code;
        this.ops.push({ kind: write ? 'write' : 'read', user, start, at: performance.now(), ok: false, seq, error: (e as Error).message, trace: describeFailure(e, steps, stage), ...(code ? { code } : {}) });
      } finally {
        clearTimeout(timer);
      }
      await tick(pauseMillis);
    }
  }

  /** Stops the users; waits for hung operations up to `waitMillis` (they were recorded already). */
  async stop(waitMillis = 5000): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    await Promise.race([Promise.allSettled([...this.#pending]), tick(waitMillis)]);
  }

  reads(since = 0): Op[] {
    return this.ops.filter((o) => o.kind === 'read' && o.at >= since);
  }
  writes(since = 0): Op[] {
    return this.ops.filter((o) => o.kind === 'write' && o.at >= since);
  }
  /** Reads that failed or hung. */
  failedReads(since = 0): Op[] {
    return this.reads(since).filter((o) => !o.ok);
  }
  /** Hosts that served reads that began after `since`. */
  readHosts(since: number): Set<Host | undefined> {
    return new Set(this.reads().filter((o) => o.ok && o.start >= since).map((o) => o.host));
  }
  /** The first acknowledged write that began after `since`. */
  firstWriteAfter(since: number): Op | undefined {
    return this.writes().filter((o) => o.ok && o.start >= since).sort((a, b) => a.at - b.at)[0];
  }
  /** Longest time between two acknowledged writes (the write outage). */
  longestWriteGap(since = 0): number {
    const at = this.writes(since).filter((o) => o.ok).map((o) => o.at).sort((a, b) => a - b);
    let gap = 0;
    for (let i = 1; i < at.length; i++) gap = Math.max(gap, at[i]! - at[i - 1]!);
    return gap;
  }
}

/** What the history shows once the rows that survived are known. */
export interface Verdict {
  reads: number;
  writes: number;
  failedReads: Op[];
  failedWrites: Op[];
  hung: Op[];
  /** Acknowledged writes whose row is not in the final primary. */
  lost: Op[];
  /** Reads that missed their user's own acknowledged write (one that survived). */
  staleOwnReads: Op[];
}

/** Checks the whole history against the rows on the final primary (`rows`: "u/seq" strings). */
export function verdict(w: Workload, rows: ReadonlySet<string>): Verdict {
  const lost = w.writes().filter((o) => o.ok && !rows.has(`${o.user}/${o.seq}`));
  const lostKeys = new Set(lost.map((o) => `${o.user}/${o.seq}`));
  // A read that saw less than its user's last acknowledged seq is stale, unless that write was lost
  // (then no node has it and the read could not see it anywhere).
  const staleOwnReads = w.reads().filter((o) => o.ok && o.seq > 0 && (o.saw ?? 0) < o.seq && !lostKeys.has(`${o.user}/${o.seq}`));
  return {
    reads: w.reads().length,
    writes: w.writes().length,
    failedReads: w.failedReads(),
    failedWrites: w.writes().filter((o) => !o.ok),
    hung: w.ops.filter((o) => o.hung),
    lost,
    staleOwnReads,
  };
}

/** One line for the test log. */
export function summary(v: Verdict): string {
  const codes = (ops: Op[]) => [...new Set(ops.map((o) => o.code ?? o.error?.slice(0, 60)))].join('; ');
  const traced = [...v.failedReads, ...v.failedWrites].filter((o) => o.trace !== undefined && o.code !== 'WRITE_OUTCOME_UNKNOWN');
  if (traced.length) console.log(`failures:\n${traced.slice(0, 12).map((o) => `  ${o.kind} ${(o.at - o.start).toFixed(0)} ms: ${o.trace}`).join('\n')}`);
  return (
    `${v.reads} reads, ${v.writes} writes; failed reads ${v.failedReads.length}${v.failedReads.length ? ` (${codes(v.failedReads)})` : ''}; ` +
    `failed writes ${v.failedWrites.length}${v.failedWrites.length ? ` (${codes(v.failedWrites)})` : ''}; hung ${v.hung.length}; ` +
    `lost acknowledged writes ${v.lost.length}; stale own reads ${v.staleOwnReads.length}`
  );
}
