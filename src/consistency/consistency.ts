import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DbRouterError } from '../errors.js';
import type { ResolvedNode } from '../routing/contracts.js';
import type { WriteEvent } from '../routing/contracts.js';
import type { ReplicationPositions, RowsFn } from '../routing/positions.js';
import type { RouteDecision } from '../routing/decide.js';
import type { RouteContext } from '../routing/router.js';
import { currentScope, runInScope, type ScopeFrame } from '../routing/scopes.js';
import type { Topology } from '../routing/topology.js';
import type { HealthStatus } from '../health/monitor.js';
import type { Classification } from '../sql/types.js';
import { checkLevel, statementLevel, type ConsistencyLevel, type ResolvedConsistency } from './levels.js';
import { holdsMore, later, reached } from '../engines/position-order.js';
import { consistencyOf, newConsistencyScope, SessionState, type ConsistencyScope } from './session.js';
import { TokenCodec, type TokenRejection } from './token.js';

/** Counters of the consistency layer (`cluster.consistencyStats()`). */
export interface ConsistencyStats {
  /** Primary positions asked after writes (one per write → read, or write → token, transition). */
  readonly captures: number;
  /** Replica replay positions asked (shared by every context; at most one per replica per `probeIntervalMillis`). */
  readonly probes: number;
  /** Reads that found a replica caught up after asking. */
  readonly caughtUp: number;
  /** Reads sent to the primary because no replica had replayed their position (`read-your-writes`). */
  readonly primaryFallbacks: number;
  /** Reads sent to the primary because no replica was fresh enough for their bound (`bounded-staleness`). */
  readonly boundedFallbacks: number;
  /**
   * Reads after a write sent to a replica without asking anything: the health monitor had already
   * seen that replica replay a primary position sampled after the write.
   */
  readonly knownFresh: number;
  /**
   * Reads after a write sent to the primary without asking anything: every replica was applying
   * later than the time since the write (their lag at the monitor's last check), so none could have it.
   */
  readonly knownBehind: number;
  /** Reads that waited for a replica to catch up (`onBehind: 'wait'`) after none had their position. */
  readonly waits: number;
  /** Of those, waits that reached `waitMillis` without a replica catching up: the read went to the primary. */
  readonly waitsTimedOut: number;
  /** Waits cut short because their unit of work ended (an HTTP client went away). */
  readonly waitsAborted: number;
  /** Consistency tokens handed out and read back. */
  readonly tokens: {
    /** Tokens made for a context that wrote (`token()`, the HTTP integrations). */
    readonly issued: number;
    /** Tokens read back and accepted: their reads wait for the position they carry. */
    readonly accepted: number;
    /** Tokens refused, by reason (`malformed`, `oversized`, `tampered`, `expired`, `foreign`); such a request reads as if it had none. */
    readonly rejected: Readonly<Record<TokenRejection, number>>;
  };
}

/** Runs one statement on node `index` (a routed pool's own pool for it). */
export interface NodeRows {
  rows(index: number, sql: string): Promise<readonly Record<string, unknown>[]>;
}

/** What the consistency layer needs from its cluster. */
export interface ConsistencyHost {
  readonly nodes: readonly ResolvedNode[];
  topology(): Topology | undefined;
  route(sql: string, c: Classification): RouteDecision;
  backgroundError(err: unknown): void;
  /** One statement on the primary over a connection of its own (a check done once). */
  queryPrimary(sql: string): Promise<readonly Record<string, unknown>[]>;
  /** The health monitor's snapshot while one runs (`cluster.status()`): replay positions and lag it already knows. */
  health(): HealthStatus | undefined;
}

const SYNC_HINT = /^\s*\/\*\s*dbrouter:synchronous\s*\*\//;

interface Counters {
  captures: number; probes: number; caughtUp: number; primaryFallbacks: number; boundedFallbacks: number;
  knownFresh: number; knownBehind: number; waits: number; waitsTimedOut: number; waitsAborted: number; issued: number; accepted: number;
  rejected: Record<TokenRejection, number>;
}

const WAIT_SLICE_MILLIS = 50;
const MAX_SAMPLES = 64;

function freshCounters(): Counters {
  return {
    captures: 0, probes: 0, caughtUp: 0, primaryFallbacks: 0, boundedFallbacks: 0, knownFresh: 0, knownBehind: 0, waits: 0, waitsTimedOut: 0, waitsAborted: 0,
    issued: 0, accepted: 0, rejected: { malformed: 0, oversized: 0, tampered: 0, expired: 0, foreign: 0 },
  };
}

function relabel(d: RouteDecision, reason: string): RouteDecision {
  return { node: d.node, reason, classification: d.classification, write: d.write };
}

/**
 * The consistency layer of one cluster: a read gate (a replica serves a read only when it is fresh
 * enough for the read's level), a write hook (a write marks its context dirty: no round trip), and
 * the slow path a read takes when the gate sent it to the primary (capture the position once, ask
 * the replicas, maybe wait). Not public: the cluster's methods are.
 */
export class ConsistencyLayer {
  readonly #host: ConsistencyHost;
  readonly #options: ResolvedConsistency;
  readonly #positions: ReplicationPositions;
  readonly #index: ReadonlyMap<string, number>;
  readonly #default = new SessionState();
  /** Per node: the replay position last seen, when it was asked (`Date.now()` at send), a probe in flight. */
  readonly #replay: (string | undefined)[];
  readonly #replayAt: Float64Array;
  readonly #probing: (Promise<void> | undefined)[];
  /** Per node: it has replayed everything the primary had committed at this time (bounded staleness). */
  readonly #freshAt: Float64Array;
  /**
   * Per node: it has replayed a primary position sampled at this time — proven by positions alone
   * (a lag figure is not proof: a replica that has not yet received a write reports no lag).
   */
  readonly #replayedAt: Float64Array;
  /**
   * Per node: a replay position that claims more than the last primary position seen, held back
   * until a primary position read after it says whether the primary has that much too. A replica
   * never really holds what its primary lacks; one that claims to has diverged (or its position was
   * forged), and trusting it would serve stale reads.
   */
  readonly #pending: ({ readonly position: string; readonly at: number } | undefined)[];
  /** Per node: a primary position read after its replay position showed the replica holding more. */
  readonly #diverged: boolean[];
  readonly #samples: { at: number; position: string }[] = [];
  readonly #clusterId: string;
  #codec: TokenCodec | undefined;
  #counters = freshCounters();
  #syncKnown: boolean | undefined;


  constructor(host: ConsistencyHost, options: ResolvedConsistency, positions: ReplicationPositions) {
    this.#host = host;
    this.#options = options;
    this.#positions = positions;
    this.#index = new Map(host.nodes.map((n, i) => [n.alias, i]));
    const n = host.nodes.length;
    this.#replay = new Array<string | undefined>(n).fill(undefined);
    this.#replayAt = new Float64Array(n);
    this.#probing = new Array<Promise<void> | undefined>(n).fill(undefined);
    this.#freshAt = new Float64Array(n);
    this.#replayedAt = new Float64Array(n);
    this.#pending = new Array<{ position: string; at: number } | undefined>(n).fill(undefined);
    this.#diverged = new Array<boolean>(n).fill(false);
    this.#clusterId = options.clusterId ?? defaultClusterId(host.nodes);
  }

  get options(): ResolvedConsistency {
    return this.#options;
  }

  get clusterId(): string {
    return this.#clusterId;
  }

  // ---- contexts -------------------------------------------------------------------------------

  #state(scope: ScopeFrame | undefined): SessionState {
    const sessions = consistencyOf(scope)?.sessions;
    if (sessions === undefined) return this.#default;
    let st = sessions.get(this);
    if (st === undefined) {
      st = new SessionState();
      sessions.set(this, st);
    }
    return st;
  }

  #peek(scope: ScopeFrame | undefined): SessionState | undefined {
    const sessions = consistencyOf(scope)?.sessions;
    return sessions === undefined ? this.#default : sessions.get(this);
  }

  #levelOf(sql: string, scope: ScopeFrame | undefined): ConsistencyLevel {
    return statementLevel(sql) ?? consistencyOf(scope)?.level ?? this.#options.level;
  }

  /** The current context's state for this cluster (created on first use). */
  current(): SessionState {
    return this.#state(currentScope());
  }

  /** Runs `fn` at `level`, in the same unit of work. */
  runAt<R>(level: ConsistencyLevel, fn: () => R): R {
    const lvl = checkLevel(level, 'consistency()');
    const outer = currentScope();
    const cs = consistencyOf(outer);
    const consistency: ConsistencyScope = { level: lvl, sessions: cs?.sessions, signal: cs?.signal, synchronous: cs?.synchronous ?? false };
    return runInScope({ ...(outer ?? { mode: 'auto' }), consistency }, fn);
  }

  /** Runs `fn` as a new unit of work that must see `position` (a token's), with `signal` ending its waits. */
  runFrom<R>(position: string | undefined, fn: () => R, options: { level?: ConsistencyLevel; signal?: AbortSignal } = {}): R {
    const outer = currentScope();
    const consistency = newConsistencyScope(options.level, options.signal ?? consistencyOf(outer)?.signal);
    if (position !== undefined) {
      const st = new SessionState();
      st.position = position;
      consistency.sessions!.set(this, st);
    }
    return runInScope({ ...(outer ?? { mode: 'auto' }), consistency }, fn);
  }

  // ---- the hot path ---------------------------------------------------------------------------

  /** The read gate: may replica `alias` serve this read now? No I/O. */
  readonly gate = (alias: string, ctx: RouteContext): boolean => {
    const scope = currentScope();
    if (scope !== undefined && scope.mode === 'replica') return true;
    const level = this.#levelOf(ctx.sql, scope);
    if (level === 'eventual') return true;
    if (level === 'strong') return false;
    const i = this.#index.get(alias);
    if (i === undefined || this.#diverged[i] === true) return false;
    if (typeof level === 'object') return Date.now() - this.#freshAt[i]! <= level.maxStalenessMillis;
    const st = this.#peek(scope);
    if (st === undefined || (!st.dirty && st.position === undefined)) return true;
    // Dirty: the position is not known yet, but a replica known to have everything the primary had
    // after the write returned has the write too.
    // (Strictly later: a sample taken in the write's own millisecond may predate its commit.)
    if (st.dirty) return st.wroteAt > 0 && this.#replayedAt[i]! > st.wroteAt;
    const have = this.#replay[i];
    if (have === undefined) return false;
    // Comparing parses both positions; a replay position already found to satisfy this state is remembered.
    if (st.satisfiedBy?.[i] === have) return true;
    if (!reached(this.#positions.kind, have, st.position!)) return false;
    (st.satisfiedBy ??= [])[i] = have;
    return true;
  };

  /** The write hook: marks the context dirty; the position is asked later, once, if needed. */
  readonly onWrite = (e: WriteEvent): void | Promise<void> => {
    const scope = currentScope();
    const st = this.#state(scope);
    st.dirty = true;
    st.wrote = true;
    st.seq++;
    st.wroteAt = Date.now();
    st.primaryRun = (sql) => e.query(sql);
    if (consistencyOf(scope)?.synchronous !== true && !SYNC_HINT.test(e.sql)) return undefined;
    return this.#synchronousApply(st.primaryRun);
  };

  async #synchronousApply(run: RowsFn): Promise<void> {
    await this.ensureSynchronous();
    const ms = this.#options.synchronousTimeoutMillis;
    if (!(await this.#positions.awaitSynchronousApply(run, ms, (q) => this.#host.queryPrimary(q)))) {
      throw new DbRouterError('SYNC_TIMEOUT', `A synchronous write committed on the primary, but no synchronous replica applied it within ${ms} ms (synchronousTimeoutMillis): replicas are down, paused or far behind. Its reads fall back as for any write.`);
    }
  }

  /**
   * After the gate: a read the gate sent to the primary may be served by a replica once the
   * context's position is known and a replica has replayed it. `undefined`: keep `d`.
   */
  beforeRead(sql: string, d: RouteDecision, rows: NodeRows): RouteDecision | Promise<RouteDecision> | undefined {
    if (d.write || d.node.role !== 'primary') return undefined;
    if (d.reason !== 'replica-refused-by-gate' && d.reason !== 'no-replica-available') return undefined;
    const scope = currentScope();
    if (scope !== undefined && scope.mode !== 'auto') return undefined;
    const level = this.#levelOf(sql, scope);
    if (level === 'eventual') return undefined;
    if (level === 'strong') return relabel(d, 'consistency-strong');
    if (!this.#anyReplicaUp()) return undefined;
    if (typeof level === 'object') return this.#bounded(sql, d, level.maxStalenessMillis, rows);
    const st = this.#peek(scope);
    if (st === undefined || (!st.dirty && st.position === undefined)) return undefined;
    return this.#session(sql, d, st, rows, consistencyOf(scope)?.signal);
  }

  #anyReplicaUp(): boolean {
    const t = this.#host.topology();
    if (t === undefined) return false;
    for (const r of t.replicas) if (t.isAvailable(r.alias)) return true;
    return false;
  }

  // ---- the slow path --------------------------------------------------------------------------

  async #session(sql: string, d: RouteDecision, st: SessionState, rows: NodeRows, signal: AbortSignal | undefined): Promise<RouteDecision> {
    try {
      if (st.dirty && this.#fromHealth()) {
        // What the monitor already knows may decide without a round trip (it matters across a real
        // network: asking costs one round trip to the primary and the replicas).
        const known = this.#host.route(sql, d.classification);
        if (known.node.role === 'replica') {
          this.#counters.knownFresh++;
          return known;
        }
        if (this.#noReplicaCanHave(st.wroteAt)) {
          this.#counters.knownBehind++;
          this.#counters.primaryFallbacks++;
          return relabel(d, 'read-your-writes');
        }
      }
      if (st.dirty) {
        // The replicas' positions do not depend on the primary's: ask both at once (one round trip,
        // not two). A replica position read before the capture is an underestimate: safe.
        const t = this.#host.topology();
        const current = t === undefined ? undefined : (q: string) => rows.rows(t.primary.index, q);
        await Promise.all([this.capture(st, current), this.#probeReplicas(rows, Date.now())]);
      } else if (!this.#fromHealth() || this.#host.route(sql, d.classification).node.role !== 'replica') {
        await this.#probeReplicas(rows, st.capturedAt);
      }
      await this.#settleWithPrimary(rows);
      const r = this.#host.route(sql, d.classification);
      if (r.node.role === 'replica') {
        this.#counters.caughtUp++;
        return r;
      }
      if (this.#options.onBehind === 'wait' && this.#options.waitMillis > 0 && st.position !== undefined) {
        const w = await this.#wait(sql, d, st.position, rows, signal);
        if (w !== undefined) return w;
      }
    } catch (err) {
      // Not knowing a position is never a reason for a stale read: the primary serves it.
      this.#host.backgroundError(err);
    }
    this.#counters.primaryFallbacks++;
    return relabel(d, 'read-your-writes');
  }

  async #wait(sql: string, d: RouteDecision, position: string, rows: NodeRows, signal: AbortSignal | undefined): Promise<RouteDecision | undefined> {
    this.#counters.waits++;
    const deadline = Date.now() + this.#options.waitMillis;
    const t = this.#host.topology();
    for (;;) {
      if (signal?.aborted === true) {
        this.#counters.waitsAborted++;
        return undefined;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        this.#counters.waitsTimedOut++;
        return undefined;
      }
      const positions = this.#positions;
      const up = t?.replicas.filter((r) => t.isAvailable(r.alias)) ?? [];
      if (up.length === 0) return undefined;
      if (positions.waitFor !== undefined) {
        // The server waits (MariaDB MASTER_GTID_WAIT), in short slices so that an ended request
        // stops waiting within one slice and holds no connection longer.
        const r = up[Math.floor(Math.random() * up.length)]!;
        const at = Date.now();
        if (await positions.waitFor((q) => rows.rows(r.index, q), position, Math.min(remaining, WAIT_SLICE_MILLIS))) {
          this.#see(r.index, position, at);
        }
      } else {
        try {
          await sleep(Math.min(this.#options.pollMillis, remaining), undefined, signal !== undefined ? { signal } : undefined);
        } catch {
          continue;
        }
        await this.#probeReplicas(rows, Date.now());
        await this.#settleWithPrimary(rows);
      }
      const again = this.#host.route(sql, d.classification);
      if (again.node.role === 'replica') {
        this.#counters.caughtUp++;
        return again;
      }
    }
  }

  async #bounded(sql: string, d: RouteDecision, maxStalenessMillis: number, rows: NodeRows): Promise<RouteDecision> {
    try {
      const t = this.#host.topology()!;
      if (this.#fromHealth()) {
        const known = this.#host.route(sql, d.classification);
        if (known.node.role === 'replica') return known;
      }
      const last = this.#samples.at(-1);
      const now = Date.now();
      if (last === undefined || now - last.at > maxStalenessMillis / 2) {
        const at = Date.now();
        const pos = await this.#positions.primary((q) => rows.rows(t.primary.index, q));
        if (pos !== undefined) this.#sample(at, pos);
      }
      await this.#probeReplicas(rows, this.#samples.at(-1)?.at ?? now);
      await this.#settleWithPrimary(rows);
      const r = this.#host.route(sql, d.classification);
      if (r.node.role === 'replica') return r;
    } catch (err) {
      this.#host.backgroundError(err);
    }
    this.#counters.boundedFallbacks++;
    return relabel(d, 'bounded-staleness');
  }

  /** The current primary over a connection of its own: a token's fallback when the write's primary is gone. */
  readonly #currentPrimary = (sql: string): Promise<readonly Record<string, unknown>[]> => this.#host.queryPrimary(sql);

  /** Asks the primary for the context's position once, however many reads wait for it. */
  async capture(st: SessionState, current?: RowsFn): Promise<void> {
    for (let attempt = 0; st.dirty && attempt < 3; attempt++) {
      if (st.capturing === undefined) {
        const run = st.primaryRun;
        if (run === undefined) throw new DbRouterError('NOT_READY', 'A write was seen without a way to ask its primary for the position.');
        const seq = st.seq;
        const at = Date.now();
        this.#counters.captures++;
        // The primary that took the write may be gone (a failover): then the current primary's
        // position stands for it — what the write became there is all a replica can replay now.
        const asked = this.#positions.primary(run).catch((err: unknown) => {
          if (current === undefined) throw err;
          return this.#positions.primary(current);
        });
        st.capturing = asked.then((pos) => {
          if (pos === undefined) throw new DbRouterError('NOT_READY', 'The primary did not report a replication position (is binary logging / WAL on?).');
          st.position = later(this.#positions.kind, st.position, pos);
          st.satisfiedBy = undefined;
          st.capturedAt = at;
          this.#sample(at, pos);
          if (st.seq === seq) st.dirty = false;
        }).finally(() => {
          st.capturing = undefined;
        });
      }
      await st.capturing;
    }
  }

  #sample(at: number, position: string): void {
    const last = this.#samples.at(-1);
    if (last !== undefined && at < last.at) return;
    // The same position seen later: a replica that has it was as fresh as that later moment (a
    // quiet primary seen by the health monitor a while ago must not make every replica look stale).
    if (last !== undefined && last.position === position) {
      this.#samples[this.#samples.length - 1] = { at, position };
      this.#settlePending(at, position);
      return;
    }
    this.#samples.push({ at, position });
    if (this.#samples.length > MAX_SAMPLES) this.#samples.shift();
    this.#settlePending(at, position);
  }

  // A primary position read after a held-back replay position: the replica either has no more than
  // the primary (its position is taken) or it has diverged (left out of session reads until a later
  // replay position is within the primary's again).
  #settlePending(at: number, position: string): void {
    const kind = this.#positions.kind;
    this.#pending.forEach((p, i) => {
      if (p === undefined || p.at > at) return;
      this.#pending[i] = undefined;
      if (holdsMore(kind, p.position, position)) this.#diverged[i] = true;
      else this.#take(i, p.position, p.at);
    });
  }

  /** True while some replica's replay position waits for a primary position read after it. */
  #anyPending(): boolean {
    return this.#pending.some((p) => p !== undefined);
  }

  /** Reads the primary's position now (one round trip) to settle held-back replica positions. */
  async #settleWithPrimary(rows: NodeRows): Promise<void> {
    const t = this.#host.topology();
    if (t === undefined || !this.#anyPending()) return;
    const at = Date.now();
    const pos = await this.#positions.primary((q) => rows.rows(t.primary.index, q));
    if (pos !== undefined) this.#sample(at, pos);
  }

  /** Asks every available replica whose known position is older than `since` or the probe interval. */
  async #probeReplicas(rows: NodeRows, since: number): Promise<void> {
    const t = this.#host.topology();
    if (t === undefined) return;
    const now = Date.now();
    const pending: Promise<void>[] = [];
    for (const r of t.replicas) {
      if (!t.isAvailable(r.alias)) continue;
      const i = r.index;
      const inFlight = this.#probing[i];
      if (inFlight !== undefined) {
        pending.push(inFlight);
        continue;
      }
      const at = this.#replayAt[i]!;
      if (at >= since && now - at < this.#options.probeIntervalMillis) continue;
      this.#counters.probes++;
      const p = this.#positions.replayed((q) => rows.rows(i, q)).then(
        (pos) => {
          if (pos !== undefined) this.#see(i, pos, now);
        },
        (err: unknown) => this.#host.backgroundError(err),
      ).finally(() => {
        this.#probing[i] = undefined;
      });
      this.#probing[i] = p;
      pending.push(p);
    }
    await Promise.all(pending);
  }

  /**
   * Takes what a running health monitor already knows (each replica's replay position and lag at
   * its last check) before asking replicas ourselves. False when no monitor runs.
   */
  #fromHealth(): boolean {
    const status = this.#host.health();
    if (status === undefined) return false;
    // The primary's position was read after its check started: everything committed before
    // lastCheckAt is in it. Sampled first, so the replicas' positions below are dated against it.
    const primary = status.nodes.find((n) => n.alias === status.primary);
    if (primary?.state === 'up' && primary.position !== undefined && primary.lastCheckAt !== undefined) this.#sample(primary.lastCheckAt, primary.position);
    for (const n of status.nodes) {
      const i = this.#index.get(n.alias);
      if (i === undefined || n.state !== 'up' || n.lastCheckAt === undefined || n.role !== 'replica') continue;
      if (n.replayPosition !== undefined) this.#see(i, n.replayPosition, n.lastCheckAt);
      if (n.lagMillis !== undefined) {
        const freshAt = n.lastCheckAt - n.lagMillis;
        if (freshAt > this.#freshAt[i]!) this.#freshAt[i] = freshAt;
      }
    }
    return true;
  }

  /**
   * True when every available replica applies changes later than the time since `wroteAt`: at the
   * monitor's last check each was `lagMillis` behind (the age of the oldest change it had not
   * applied), so a change made since has not reached any yet. Only ever sends a read to the
   * primary, never to a replica: a wrong guess costs a replica read, not a stale one.
   */
  #noReplicaCanHave(wroteAt: number): boolean {
    const status = this.#host.health();
    if (status === undefined) return false;
    const since = Date.now() - wroteAt;
    let any = false;
    for (const n of status.nodes) {
      if (n.role !== 'replica' || !n.inRotation) continue;
      any = true;
      if (n.lagMillis === undefined || n.lagMillis <= since) return false;
    }
    return any;
  }

  #see(i: number, position: string, at: number): void {
    const kind = this.#positions.kind;
    const last = this.#samples.at(-1);
    if (last !== undefined && holdsMore(kind, position, last.position)) {
      // More than the primary had at its last sample: proof of divergence if that sample was read
      // after this position; otherwise held back until a primary position read after it settles it.
      if (last.at > at) {
        this.#diverged[i] = true;
        this.#pending[i] = undefined;
      } else {
        this.#pending[i] = { position, at };
      }
      return;
    }
    this.#pending[i] = undefined;
    this.#take(i, position, at);
  }

  #take(i: number, position: string, at: number): void {
    const kind = this.#positions.kind;
    this.#diverged[i] = false;
    this.#replay[i] = later(kind, this.#replay[i], position);
    const have = this.#replay[i];
    if (at > this.#replayAt[i]!) this.#replayAt[i] = at;
    for (let k = this.#samples.length - 1; k >= 0; k--) {
      const s = this.#samples[k]!;
      if (s.at <= this.#replayedAt[i]!) break;
      if (reached(kind, have, s.position)) {
        this.#replayedAt[i] = s.at;
        break;
      }
    }
    if (this.#replayedAt[i]! > this.#freshAt[i]!) this.#freshAt[i] = this.#replayedAt[i]!;
  }

  /** Forgets what is known about replicas (a failover: positions start again on a new timeline). */
  forgetReplicas(): void {
    this.#replay.fill(undefined);
    this.#replayAt.fill(0);
    this.#freshAt.fill(0);
    this.#replayedAt.fill(0);
    this.#pending.fill(undefined);
    this.#diverged.fill(false);
  }

  // ---- units of work started by the HTTP integrations -----------------------------------------

  /** A new unit of work at `level` that must see `position` (from a request's token). */
  openScope(position: string | undefined, level: ConsistencyLevel | undefined, signal: AbortSignal | undefined): ConsistencyScope {
    const scope = newConsistencyScope(level, signal);
    if (position !== undefined) {
      const st = new SessionState();
      st.position = position;
      scope.sessions!.set(this, st);
    }
    return scope;
  }

  /** Whether the unit of work wrote (so a token is worth sending), and whether that token is ready without a round trip. */
  wroteIn(scope: ConsistencyScope): 'no' | 'ready' | 'capture' {
    const st = scope.sessions?.get(this);
    if (st === undefined || !st.wrote) return 'no';
    return st.dirty ? 'capture' : 'ready';
  }

  /** The token for a unit of work that wrote, signed with `codec`; captures the position first if needed. */
  async tokenFor(scope: ConsistencyScope, codec: TokenCodec): Promise<string | undefined> {
    const st = scope.sessions?.get(this);
    if (st === undefined || !st.wrote) return undefined;
    if (st.dirty) await this.capture(st, this.#currentPrimary);
    return this.tokenNow(scope, codec);
  }

  /** The token when no capture is needed (`wroteIn` said `ready`). */
  tokenNow(scope: ConsistencyScope, codec: TokenCodec): string | undefined {
    const pos = scope.sessions?.get(this)?.position;
    if (pos === undefined) return undefined;
    this.#counters.issued++;
    return codec.encode(pos);
  }

  // ---- tokens ---------------------------------------------------------------------------------

  codec(): TokenCodec {
    if (this.#codec === undefined) {
      if (this.#options.secret === undefined) {
        throw new DbRouterError('SECRET_MISSING', 'Consistency tokens are signed: set consistency.secret in createCluster (16 bytes or more, for example from an environment variable), the same in every service that reads them.');
      }
      this.#codec = this.makeCodec(this.#options.secret);
    }
    return this.#codec;
  }

  makeCodec(secret: NonNullable<ResolvedConsistency['secret']>, maxAgeMillis = this.#options.tokenMaxAgeMillis): TokenCodec {
    return new TokenCodec({ secret, clusterId: this.#clusterId, maxAgeMillis });
  }

  /** The current context's write position, asked of the primary now if it wrote since; `undefined` when it never wrote. */
  async position(): Promise<string | undefined> {
    const st = this.#peek(currentScope());
    if (st === undefined) return undefined;
    if (st.dirty) await this.capture(st, this.#currentPrimary);
    return st.position;
  }

  async token(codec: TokenCodec = this.codec()): Promise<string | undefined> {
    const pos = await this.position();
    if (pos === undefined) return undefined;
    this.#counters.issued++;
    return codec.encode(pos);
  }

  /** The position a token names, or `undefined` (absent, or refused and counted). */
  accept(token: unknown, codec?: TokenCodec): string | undefined {
    if (token === undefined || token === null || token === '') return undefined;
    const r = (codec ?? this.codec()).decode(token);
    if (!r.ok) {
      this.#counters.rejected[r.reason]++;
      return undefined;
    }
    this.#counters.accepted++;
    return r.position;
  }

  // ---- synchronous writes ---------------------------------------------------------------------

  /** Throws `SYNC_UNAVAILABLE` unless the primary has synchronous replicas (asked once, on a connection of its own). */
  async ensureSynchronous(): Promise<void> {
    this.#syncKnown ??= await this.#positions.synchronousReplicas((q) => this.#host.queryPrimary(q));
    if (this.#syncKnown) return;
    throw new DbRouterError('SYNC_UNAVAILABLE', this.#positions.kind === 'postgres'
      ? 'Synchronous writes were asked for, but the primary has no synchronous replicas (synchronous_standby_names is empty), so a commit would not wait for any replica. Set synchronous_standby_names on the primary (for example \'ANY 1 (*)\'; locally: dbrouter cluster up --sync), or drop synchronous().'
      : 'Synchronous writes were asked for, but MySQL/MariaDB replicas never apply before a commit returns: semi-synchronous replication waits until a replica has received a transaction, not applied it, so a read right after could still miss it. Use session consistency (read-your-writes) instead.');
  }

  /** Runs `fn` with its writes committed synchronously (they return once synchronous replicas applied them). */
  runSynchronous<R>(fn: () => R): R {
    const outer = currentScope();
    const cs = consistencyOf(outer);
    const consistency: ConsistencyScope = { level: cs?.level, sessions: cs?.sessions, signal: cs?.signal, synchronous: true };
    return runInScope({ ...(outer ?? { mode: 'auto' }), consistency }, fn);
  }

  // ---- statistics -----------------------------------------------------------------------------

  stats(): ConsistencyStats {
    const c = this.#counters;
    return {
      captures: c.captures, probes: c.probes, caughtUp: c.caughtUp, primaryFallbacks: c.primaryFallbacks, boundedFallbacks: c.boundedFallbacks,
      knownFresh: c.knownFresh, knownBehind: c.knownBehind,
      waits: c.waits, waitsTimedOut: c.waitsTimedOut, waitsAborted: c.waitsAborted,
      tokens: { issued: c.issued, accepted: c.accepted, rejected: { ...c.rejected } },
    };
  }

  resetStats(): void {
    this.#counters = freshCounters();
  }
}

/** Identifies a cluster in its tokens: the nodes' addresses, not their passwords. */
function defaultClusterId(nodes: readonly ResolvedNode[]): string {
  const where = nodes.map((n) => `${n.connection.host}:${n.connection.port}/${n.connection.database ?? ''}`).sort().join(',');
  return createHash('sha256').update(where).digest('base64url').slice(0, 12);
}
