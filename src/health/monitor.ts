import { EventEmitter } from 'node:events';
import { DbRouterError } from '../errors.js';
import { sameAddress } from './address.js';
import { answeredByServer, authFailure } from './auth.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import type { MonitoredNode, NodeProbe, ProbeResult, Prober, Role } from '../engines/probe.js';
import { checkMonitorOptions as checkMonitorKeys } from './options.js';

/**
 * Options of a `HealthMonitor`. Every duration is in milliseconds.
 *
 * @example
 *   new HealthMonitor({ nodes, prober, checkIntervalMillis: 500, maxReplicationLagMillis: 2000 })
 */
export interface HealthMonitorOptions {
  /** The nodes to check, each by alias with its configured role. */
  readonly nodes: readonly MonitoredNode[];
  /** The engine's probes and position order (PostgreSQL or MySQL/MariaDB). */
  readonly prober: Prober;
  /** Time between two checks of a node. Default 1000. */
  readonly checkIntervalMillis?: number;
  /** Bound on one check, connecting included: a node that accepts TCP but never answers fails it. Default 1000. */
  readonly checkTimeoutMillis?: number;
  /** Consecutive failed checks before a node is down (one suffices after `markSuspect`). Default 2. */
  readonly failuresBeforeDown?: number;
  /** Consecutive good checks before a down node is up, or a lagging replica back in reads. Default 2. */
  readonly checksBeforeUp?: number;
  /** A replica further behind than this leaves the reads. Default 10000. */
  readonly maxReplicationLagMillis?: number;
  /** A lagging replica returns only once at or below this lag. Default half of `maxReplicationLagMillis`. */
  readonly caughtUpLagMillis?: number;
  /**
   * Keep at least this many reachable replicas in reads even when they lag (the least late ones),
   * so losing replicas one by one never moves every read onto the primary. Default 0.
   */
  readonly minReplicasInRotation?: number;
  /** Time between checks while looking for a primary (`findPrimary`, waiting writes). Default 50. */
  readonly primarySearchIntervalMillis?: number;
  /**
   * Called once each time the primary is lost (down, or found to be a replica) and no other node is
   * primary: the place to trigger a promotion (Pgpool-II's `failover_command`). Off by default.
   * Its failures arrive as `'error'` events.
   */
  readonly onPrimaryLost?: (event: PrimaryLostEvent) => void | Promise<void>;
  /** Time source, for tests. */
  readonly clock?: Clock;
}

/** Health of one node, as `status()` shows it. JSON-safe; it never holds a credential. */
export interface NodeHealth {
  /** The node's alias, as in the cluster's `databases`. */
  readonly alias: string;
  /** The role the configuration gives it (or the server reported at start). */
  readonly configuredRole: Role;
  /** The role the server reports; `undefined` before its first good check. */
  readonly role: Role | undefined;
  /** `unknown` before the first check; `down` after `failuresBeforeDown` failed checks. */
  readonly state: 'unknown' | 'up' | 'down';
  /** Whether the last check succeeded. */
  readonly reachable: boolean | undefined;
  /** Marked after a connection error, until its immediate recheck. */
  readonly suspect: boolean;
  /** Replicas: serves reads now. The primary: false. */
  readonly inRotation: boolean;
  /** Replicas: out of the reads for lag (beyond `maxReplicationLagMillis`, or unknown) until caught up. */
  readonly lagging: boolean;
  /**
   * Time lag: the age of the oldest write the replica has not applied, 0 when it has everything the
   * primary had at its last check. Dated by the primary positions the monitor saw and when; a gap
   * older than that history is dated by the engine's own estimate (see `lagFrom`). `undefined`:
   * unknown, treated as beyond any bound.
   */
  readonly lagMillis: number | undefined;
  /**
   * How `lagMillis` was found: `positions` (compared with the primary positions this monitor saw,
   * exact to about one check interval), `engine` (the gap is older than what the monitor saw: the
   * engine's estimate, at least the time the monitor has watched), `undefined` before a check.
   */
  readonly lagFrom: 'positions' | 'engine' | undefined;
  /** Distance behind the primary's last seen position, in `positionUnit`. */
  readonly lagPosition: number | undefined;
  /** The unit of `lagPosition`: WAL `bytes` (PostgreSQL) or `transactions` (MariaDB GTIDs). */
  readonly positionUnit: 'bytes' | 'transactions';
  /** Last good check: the primary's write position, or what the replica has received (an LSN or a GTID list). */
  readonly position: string | undefined;
  /** Last good check: what the replica has applied, visible to reads (on the primary, its write position). */
  readonly replayPosition: string | undefined;
  /** The primary this replica streams from, `host:port`, when the engine says; `undefined` on a primary. */
  readonly upstream: string | undefined;
  /** Replay (PostgreSQL) or the SQL thread (MariaDB) is stopped; `undefined` before a good check. */
  readonly paused: boolean | undefined;
  /** Round trip of the last good check's query, in milliseconds (the whole check when the engine does not time the query). */
  readonly rttMillis: number | undefined;
  /** Epoch milliseconds of the start of the last check. */
  readonly lastCheckAt: number | undefined;
  /** Failed checks in a row; 0 after a good one. */
  readonly consecutiveFailures: number;
  /** The last failed check's error message (never a credential); cleared by a good check. */
  readonly lastError: string | undefined;
  /** What the last good check found wrong with the node's configuration or replication. */
  readonly problems: readonly NodeProblem[];
}

/** Something wrong with how a node is configured or replicates, found by a check. */
export interface NodeProblem {
  /**
   * `diverged`: the replica holds transactions the primary lacks (written on it, or left from a
   * former primary's history): it leaves the reads. `replication-stopped`: its replication threads
   * stopped or failed (not a pause of replay): it leaves the reads while a primary can serve them.
   */
  readonly kind: 'configured-primary-is-replica' | 'upstream-mismatch' | 'limited-check' | 'diverged' | 'replication-stopped';
  /** What is wrong, on which node, and (where there is one) how to fix it. */
  readonly message: string;
}

/** The monitor's snapshot: `cluster.status()` builds on it. */
export interface HealthStatus {
  /** The alias that takes writes; `undefined` when no node is known to be primary. */
  readonly primary: string | undefined;
  /** Writes can go out now: a primary is known, not down, not suspect, not lost, and no split brain. */
  readonly primaryAvailable: boolean;
  /** Set while more than one node claims to be primary: writes are refused. */
  readonly splitBrain: readonly string[] | undefined;
  /** Replicas that serve reads now; empty means reads go to the primary. */
  readonly readableReplicas: readonly string[];
  /** Every monitored node, in configuration order. */
  readonly nodes: readonly NodeHealth[];
}

/**
 * `'node-down'`: a node failed `failuresBeforeDown` checks in a row (default 2; one after a
 * connection error on a statement) and left the routing. `error` is the last check's error message
 * (never a credential).
 */
export interface NodeDownEvent {
  /** The node that went down. */
  readonly alias: string;
  /** The last failed check's error message. */
  readonly error: string | undefined;
  /**
   * False when the server itself answered the last failed check with an error (it refused the
   * monitor's login, had too many connections, was shutting down): the node is down for routing,
   * but connections to it are not stuck on a silent network, so they are left alone.
   */
  readonly unreachable: boolean;
}
/** `'node-up'`: a down node passed `checksBeforeUp` checks in a row (default 2) and serves again. */
export interface NodeUpEvent {
  /** The node that is up again. */
  readonly alias: string;
}
/**
 * `'lagging'`: a replica is further behind than `maxReplicationLagMillis` (default 10000), or its lag
 * is unknown (`lagMillis` undefined), and left the reads. `lagPosition` is the distance in the
 * prober's `positionUnit` (WAL bytes or transactions).
 */
export interface LaggingEvent {
  /** The replica that left the reads. */
  readonly alias: string;
  /** Its time lag in milliseconds; `undefined` when unknown. */
  readonly lagMillis: number | undefined;
  /** Its distance behind the primary's last seen position, in `positionUnit`; `undefined` when unknown. */
  readonly lagPosition: number | undefined;
}
/** `'caught-up'`: a lagging replica stayed at or below `caughtUpLagMillis` for `checksBeforeUp` checks and serves reads again. */
export interface CaughtUpEvent {
  /** The replica back in the reads. */
  readonly alias: string;
  /** Its time lag in milliseconds at the check that brought it back. */
  readonly lagMillis: number | undefined;
}
/** `'primary-changed'`: exactly one node claims to be primary and it is not the one before (`from` undefined at start). */
export interface PrimaryChangedEvent {
  /** The former primary; `undefined` when none was known (at start, or after the primary was lost). */
  readonly from: string | undefined;
  /** The node that now claims to be primary. */
  readonly to: string;
}
/**
 * `'primary-lost'`: no node claims to be primary any more; the former one is `down` or answered as
 * a replica (`became-replica`). Also what `onPrimaryLost` receives. Writes wait for a new primary.
 */
export interface PrimaryLostEvent {
  /** The primary that was lost. */
  readonly alias: string | undefined;
  /** `down`: it failed its checks. `became-replica`: it answered, as a replica. */
  readonly reason: 'down' | 'became-replica';
}
/** `'split-brain'`: two or more nodes claim to be primary (`aliases`); writes are refused with `SPLIT_BRAIN` until one remains. */
export interface SplitBrainEvent {
  /** Every node that claims to be primary. */
  readonly aliases: readonly string[];
}
/** `'problem'`: a check found something wrong with how `alias` is configured or replicates (see {@link NodeProblem}). */
export interface ProblemEvent extends NodeProblem {
  /** The node the problem is on. */
  readonly alias: string;
}
/** `'check'`: one check of `alias` ended; `ok` false when the node could not be reached or did not answer in time. */
export interface CheckEvent {
  /** The node checked. */
  readonly alias: string;
  /** The check succeeded. */
  readonly ok: boolean;
}

/** The monitor's events and their payloads. */
export interface HealthMonitorEvents {
  /** A node failed its checks and left the routing. */
  'node-down': [NodeDownEvent];
  /** A down node passed its checks and serves again. */
  'node-up': [NodeUpEvent];
  /** A replica fell too far behind (or its lag became unknown) and left the reads. */
  lagging: [LaggingEvent];
  /** A lagging replica caught up and serves reads again. */
  'caught-up': [CaughtUpEvent];
  /** A different node is now the one primary. */
  'primary-changed': [PrimaryChangedEvent];
  /** No node claims to be primary any more; writes wait. */
  'primary-lost': [PrimaryLostEvent];
  /** Two or more nodes claim to be primary; writes are refused. */
  'split-brain': [SplitBrainEvent];
  /** A check found a configuration or replication problem (emitted when new or when its message changes). */
  problem: [ProblemEvent];
  /** After every check of a node (for dashboards and for keeping a cluster's view in step). */
  check: [CheckEvent];
  /** A failure in the background (an `onPrimaryLost` hook, an internal error); emitted only when someone listens. */
  error: [Error];
}

interface Sample { readonly at: number; readonly position: string }

interface NodeState {
  readonly node: MonitoredNode;
  probe: NodeProbe | undefined;
  health: 'unknown' | 'up' | 'down';
  reachable: boolean | undefined;
  suspect: boolean;
  failures: number;
  successes: number;
  lagging: boolean;
  goodLagChecks: number;
  result: ProbeResult | undefined;
  lagMillis: number | undefined;
  lagPosition: number | undefined;
  lagFrom: 'positions' | 'engine' | undefined;
  /** Why the replica is diverged, kept until a comparison with a later primary position says otherwise. */
  diverged: string | undefined;
  /** Order (the monitor's check counter) in which the last good check started and finished. */
  lastGoodCheckStartSeq: number;
  lastGoodCheckEndSeq: number;
  rttMillis: number | undefined;
  lastCheckAt: number | undefined;
  lastGoodCheckAt: number | undefined;
  lastError: string | undefined;
  problems: Map<NodeProblem['kind'], string>;
  inFlight: Promise<void> | undefined;
  again: boolean;
  timer: TimerHandle | undefined;
}

interface Waiter {
  readonly since: number;
  readonly fresh: boolean;
  readonly resolve: (alias: string) => void;
  readonly reject: (e: Error) => void;
  timer: TimerHandle | undefined;
}

/** Whether `later`'s last good check began after `earlier`'s last good check ended. */
function checkedAfter(later: NodeState, earlier: NodeState): boolean {
  return later.lastGoodCheckStartSeq >= earlier.lastGoodCheckEndSeq;
}

/** How soon a replica that streams from no one is checked again while a primary is available. */
const NOT_STREAMING_RECHECK_MILLIS = 250;

/**
 * Watches every node of a cluster over its own connections: reachability, the role each server
 * reports, replication lag in time and position, round-trip time. It decides which replicas serve
 * reads (with hysteresis), which node is the primary, and notices split brain. It never throws
 * from the background: failures arrive as `'error'` events, and only when someone listens.
 *
 * @example
 *   const monitor = new HealthMonitor({ nodes, prober: postgresProber({ connections }) })
 *   monitor.on('node-down', ({ alias }) => log.warn(`${alias} is down`))
 *   await monitor.start()
 *   monitor.readableReplicas() // ['r1']
 *   const primary = await monitor.writablePrimary(5000)
 */
export class HealthMonitor extends EventEmitter<HealthMonitorEvents> {
  #prober: Prober;
  readonly #clock: Clock;
  #interval = 1000;
  #timeout = 1000;
  #failuresBeforeDown = 2;
  #checksBeforeUp = 2;
  #maxLag = 10_000;
  #caughtUpLag = 5000;
  #minReplicas = 0;
  #searchInterval = 50;
  #onPrimaryLost: HealthMonitorOptions['onPrimaryLost'];
  #tuning: Omit<HealthMonitorOptions, 'nodes' | 'prober' | 'clock'> = {};
  readonly #nodes = new Map<string, NodeState>();
  #primary: string | undefined;
  #primaryLost = false;
  #splitBrain: readonly string[] | undefined;
  #samples: Sample[] = [];
  /** Counts check starts and ends: orders one node's reads against another's whatever the clock says. */
  #seq = 0;
  #searches = 0;
  #waiters = new Set<Waiter>();
  #started = false;
  #stopped = false;

  /**
   * A monitor of `options.nodes`, not started (`start()`). Throws `CONFIG_INVALID` for no node, an
   * alias given twice, two configured primaries, or an option out of range.
   */
  constructor(options: HealthMonitorOptions) {
    super();
    checkMonitorKeys(options);
    const o = options;
    this.#prober = o.prober;
    this.#clock = o.clock ?? systemClock;
    this.#tune(o);
    if (o.nodes.length === 0) throw new DbRouterError('CONFIG_INVALID', 'The health monitor needs at least one node.');
    for (const node of o.nodes) {
      if (this.#nodes.has(node.alias)) {
        throw new DbRouterError('CONFIG_INVALID', `Node alias "${node.alias}" appears twice; aliases must be unique.`);
      }
      this.#nodes.set(node.alias, newState(node));
    }
    const primaries = o.nodes.filter((n) => n.configuredRole === 'primary');
    if (primaries.length > 1) {
      throw new DbRouterError('CONFIG_INVALID', `Configure one primary, not ${primaries.length} (${primaries.map((n) => n.alias).join(', ')}).`);
    }
    this.#primary = primaries[0]?.alias;
    this.#primaryLost = this.#primary === undefined;
  }

  /**
   * Changes the timing and thresholds of a running monitor (what `watchCluster(cluster, options)`
   * does to the monitor a cluster already runs). Options left out keep their current value; the
   * next check uses the new ones. `nodes` and `clock` cannot change; a new `prober` replaces the
   * monitoring connections.
   *
   * @example
   *   monitor.reconfigure({ checkIntervalMillis: 250, maxReplicationLagMillis: 2000 })
   */
  reconfigure(options: Partial<Omit<HealthMonitorOptions, 'nodes' | 'clock'>>): void {
    this.#tune({ ...this.#tuning, ...definedOnly(options) });
    if (options.prober !== undefined && options.prober !== this.#prober) {
      this.#prober = options.prober;
      for (const s of this.#nodes.values()) {
        const old = s.probe;
        s.probe = undefined;
        old?.close().catch(() => undefined);
      }
    }
    for (const s of this.#nodes.values()) {
      if (s.timer !== undefined && s.inFlight === undefined) this.#schedule(s, this.#searches > 0 ? this.#searchInterval : this.#interval);
    }
  }

  // Validates everything before changing anything, so a bad value leaves the monitor as it was.
  #tune(o: Omit<HealthMonitorOptions, 'nodes' | 'prober' | 'clock'>): void {
    const t = checkMonitorOptions(o);
    this.#interval = t.interval;
    this.#timeout = t.timeout;
    this.#failuresBeforeDown = t.failuresBeforeDown;
    this.#checksBeforeUp = t.checksBeforeUp;
    this.#maxLag = t.maxLag;
    this.#caughtUpLag = t.caughtUpLag;
    this.#minReplicas = t.minReplicas;
    this.#searchInterval = t.searchInterval;
    this.#onPrimaryLost = o.onPrimaryLost;
    const { prober: _p, nodes: _n, clock: _c, ...rest } = o as HealthMonitorOptions;
    this.#tuning = rest;
  }

  /**
   * Starts checking every node; resolves once each node has had its first check (or its timeout).
   * Idempotent.
   */
  async start(): Promise<void> {
    if (this.#stopped) throw new DbRouterError('POOL_ENDED', 'Cannot start a health monitor after stop().');
    if (this.#started) return;
    this.#started = true;
    await holdOpen(Promise.all([...this.#nodes.values()].map((s) => this.#check(s))));
  }

  /** Stops every check, closes the monitoring connections, rejects waiting writes. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const w of this.#waiters) this.#settle(w, new DbRouterError('PRIMARY_UNAVAILABLE', 'The health monitor was stopped while a write waited for a primary.'));
    const closing: Promise<void>[] = [];
    for (const s of this.#nodes.values()) {
      if (s.timer !== undefined) this.#clock.clearTimeout(s.timer);
      s.timer = undefined;
      if (s.probe) closing.push(s.probe.close().catch(() => undefined));
      s.probe = undefined;
    }
    await Promise.all(closing);
  }

  /** The alias that takes writes now, or `undefined` when there is none or two claim it. */
  primary(): string | undefined {
    return this.#primaryAvailable() ? this.#primary : undefined;
  }

  /**
   * Replicas that serve reads now, in configuration order. Empty: send reads to the primary.
   * Lagging replicas are left out unless `minReplicasInRotation` keeps them, or no primary is
   * available (then a late read beats a failed one).
   */
  readableReplicas(): string[] {
    // A diverged replica never serves: its data is not the primary's, however recent.
    const candidates = [...this.#nodes.values()].filter(
      (s) => s.node.alias !== this.#primary && s.health !== 'down' && !s.suspect && s.result?.role !== 'primary' && !s.problems.has('diverged'),
    );
    const stopped = (s: NodeState) => s.problems.has('replication-stopped');
    const healthy = candidates.filter((s) => !s.lagging && !stopped(s));
    // Lag takes a replica out only while something better can serve: with no primary to fall back
    // on, late replicas keep serving reads rather than let reads fail. One whose replication
    // stopped falls further behind with every write: it serves only then.
    const primaryUp = this.#primaryAvailable();
    const floor = primaryUp ? this.#minReplicas : Math.max(this.#minReplicas, 1);
    if (healthy.length >= floor) return healthy.map((s) => s.node.alias);
    const late = candidates
      .filter((s) => (s.lagging || stopped(s)) && s.reachable === true && (!primaryUp || !stopped(s)))
      .sort((a, b) => (a.lagMillis ?? Infinity) - (b.lagMillis ?? Infinity))
      .slice(0, primaryUp ? floor - healthy.length : undefined);
    const keep = new Set([...healthy, ...late]);
    return candidates.filter((s) => keep.has(s)).map((s) => s.node.alias);
  }

  /** Whether `alias` may serve a read now (a readable replica, or the primary). */
  isReadable(alias: string): boolean {
    return alias === this.primary() || this.readableReplicas().includes(alias);
  }

  /**
   * Call after a connection error on `alias`: it leaves the reads at once and is checked now
   * rather than at the next interval; one more failed check takes it down.
   */
  markSuspect(alias: string): void {
    const s = this.#nodes.get(alias);
    if (!s || this.#stopped) return;
    s.suspect = true;
    this.#evaluateSafely();
    void this.#check(s);
  }

  /**
   * The primary for a write: at once when one is known and up; otherwise looks among the
   * configured nodes (checking them every `primarySearchIntervalMillis`) for up to `timeoutMillis`.
   * Rejects with `SPLIT_BRAIN` when two nodes claim to be primary, `PRIMARY_UNAVAILABLE` past the bound.
   */
  async writablePrimary(timeoutMillis: number): Promise<string> {
    if (this.#splitBrain) throw splitBrainError(this.#splitBrain);
    const now = this.primary();
    if (now !== undefined) return now;
    return this.#wait(timeoutMillis, false);
  }

  /**
   * Polls every configured node until exactly one reports being primary after this call began,
   * and returns its alias (making it the primary). Rejects like `writablePrimary`.
   */
  async findPrimary(timeoutMillis: number): Promise<string> {
    return this.#wait(timeoutMillis, true);
  }

  /** A JSON-safe snapshot of every node and of the cluster's primary. */
  status(): HealthStatus {
    const readable = new Set(this.readableReplicas());
    return {
      primary: this.#primary,
      primaryAvailable: this.#primaryAvailable(),
      splitBrain: this.#splitBrain ? [...this.#splitBrain] : undefined,
      readableReplicas: [...readable],
      nodes: [...this.#nodes.values()].map((s) => ({
        alias: s.node.alias,
        configuredRole: s.node.configuredRole,
        role: s.result?.role,
        state: s.health,
        reachable: s.reachable,
        suspect: s.suspect,
        inRotation: readable.has(s.node.alias),
        lagging: s.lagging,
        lagMillis: s.lagMillis,
        lagPosition: s.lagPosition,
        lagFrom: s.lagFrom,
        positionUnit: this.#prober.positionUnit,
        position: s.result?.position,
        replayPosition: s.result?.replayPosition,
        upstream: s.result?.upstream,
        paused: s.result?.paused,
        rttMillis: s.rttMillis,
        lastCheckAt: s.lastCheckAt,
        consecutiveFailures: s.failures,
        lastError: s.lastError,
        problems: [...s.problems].map(([kind, message]) => ({ kind, message })),
      })),
    };
  }

  #primaryAvailable(): boolean {
    if (this.#splitBrain || this.#primary === undefined || this.#primaryLost) return false;
    const s = this.#nodes.get(this.#primary);
    return s !== undefined && s.health !== 'down' && !s.suspect && s.result?.role !== 'replica';
  }

  #wait(timeoutMillis: number, fresh: boolean): Promise<string> {
    if (this.#stopped) return Promise.reject(new DbRouterError('PRIMARY_UNAVAILABLE', 'The health monitor is stopped.'));
    return holdOpen(new Promise<string>((resolve, reject) => {
      const waiter: Waiter = { since: this.#clock.now(), fresh, resolve, reject, timer: undefined };
      waiter.timer = this.#clock.setTimeout(() => {
        this.#settle(waiter, new DbRouterError(
          'PRIMARY_UNAVAILABLE',
          `No primary found among ${[...this.#nodes.keys()].join(', ')} within ${timeoutMillis} ms; ` +
            'writes fail until one is promoted or comes back (reads go on from replicas).',
        ));
      }, timeoutMillis);
      this.#waiters.add(waiter);
      this.#searches += 1;
      for (const s of this.#nodes.values()) void this.#check(s);
      this.#resolveWaiters();
    }));
  }

  #settle(w: Waiter, outcome: string | Error): void {
    if (!this.#waiters.delete(w)) return;
    if (w.timer !== undefined) this.#clock.clearTimeout(w.timer);
    this.#searches -= 1;
    if (typeof outcome === 'string') w.resolve(outcome);
    else w.reject(outcome);
  }

  #resolveWaiters(): void {
    if (this.#waiters.size === 0) return;
    if (this.#splitBrain) {
      for (const w of this.#waiters) this.#settle(w, splitBrainError(this.#splitBrain));
      return;
    }
    if (!this.#primaryAvailable() || this.#primary === undefined) return;
    const last = this.#nodes.get(this.#primary)?.lastGoodCheckAt ?? -Infinity;
    for (const w of this.#waiters) if (!w.fresh || last >= w.since) this.#settle(w, this.#primary);
  }

  // One check per node at a time; a request during a check runs right after it.
  #check(s: NodeState): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (s.inFlight) {
      s.again = true;
      return s.inFlight;
    }
    if (s.timer !== undefined) this.#clock.clearTimeout(s.timer);
    s.timer = undefined;
    const run = this.#runCheck(s).finally(() => {
      s.inFlight = undefined;
      if (this.#stopped) return;
      if (s.again) {
        s.again = false;
        void this.#check(s);
      } else {
        // A replica found streaming from no one is usually restarting its stream (it follows a new
        // primary): looked at again soon, so that it is back in the reads as soon as it streams.
        const restreaming = s.result?.notStreaming !== undefined && this.#primaryAvailable();
        const next = this.#searches > 0 ? this.#searchInterval : this.#interval;
        this.#schedule(s, restreaming ? Math.min(next, NOT_STREAMING_RECHECK_MILLIS) : next);
      }
    });
    s.inFlight = run;
    return run;
  }

  #schedule(s: NodeState, ms: number): void {
    if (s.timer !== undefined) this.#clock.clearTimeout(s.timer);
    s.timer = this.#clock.setTimeout(() => {
      s.timer = undefined;
      void this.#check(s);
    }, ms);
  }

  async #runCheck(s: NodeState): Promise<void> {
    const startedAt = this.#clock.now();
    const startSeq = ++this.#seq;
    const controller = new AbortController();
    let timer: TimerHandle | undefined;
    try {
      s.probe ??= this.#prober.forNode(s.node);
      const checking = s.probe.check(controller.signal);
      checking.catch(() => undefined);
      const timeout = new Promise<never>((_, reject) => {
        timer = this.#clock.setTimeout(() => {
          reject(new DbRouterError('NODE_DOWN', `The check of node "${s.node.alias}" did not finish within ${this.#timeout} ms (checkTimeoutMillis).`));
          controller.abort();
        }, this.#timeout);
      });
      const result = await Promise.race([checking, timeout]);
      if (this.#stopped) return;
      this.#onSuccess(s, result, startedAt, startSeq);
    } catch (e) {
      if (this.#stopped) return;
      this.#onFailure(s, e, startedAt);
    } finally {
      if (timer !== undefined) this.#clock.clearTimeout(timer);
    }
    this.#evaluateSafely();
    this.#emit('check', { alias: s.node.alias, ok: s.reachable === true });
  }

  #onSuccess(s: NodeState, r: ProbeResult, startedAt: number, startSeq: number): void {
    const alias = s.node.alias;
    s.reachable = true;
    s.failures = 0;
    s.suspect = false;
    s.lastError = undefined;
    s.result = r;
    s.lastCheckAt = startedAt;
    s.lastGoodCheckAt = startedAt;
    s.lastGoodCheckStartSeq = startSeq;
    s.lastGoodCheckEndSeq = ++this.#seq;
    s.rttMillis = r.rttMillis ?? this.#clock.now() - startedAt;
    if (s.health === 'unknown') s.health = 'up';
    else if (s.health === 'down' && ++s.successes >= this.#checksBeforeUp) this.#up(s);

    if (r.role === 'primary') {
      if (alias === this.#primary) this.#sample(startedAt, r.position);
      s.lagMillis = 0;
      s.lagPosition = 0;
      s.lagFrom = 'positions';
      s.lagging = false;
      s.goodLagChecks = 0;
    } else {
      this.#measureLag(s, r, startedAt);
    }
  }

  #up(s: NodeState): void {
    s.health = 'up';
    s.successes = 0;
    this.#emit('node-up', { alias: s.node.alias });
  }

  #onFailure(s: NodeState, e: unknown, startedAt: number): void {
    s.reachable = false;
    s.successes = 0;
    s.failures += 1;
    s.lastCheckAt = startedAt;
    s.lastError = describe(e);
    const wasSuspect = s.suspect;
    s.suspect = false;
    if (s.health === 'unknown' || (s.health === 'up' && (wasSuspect || s.failures >= this.#failuresBeforeDown))) {
      s.health = 'down';
      this.#emit('node-down', { alias: s.node.alias, error: s.lastError, unreachable: !answeredByServer(e) });
    }
  }

  // Primary positions with the time each was first seen, to estimate a replica's lag from the
  // oldest one it has not applied: that catches a replica cut off from its primary, which the
  // engine itself reports as "0 behind" (PostgreSQL: received == replayed).
  #sample(at: number, position: string | undefined): void {
    if (position === undefined) return;
    const last = this.#samples[this.#samples.length - 1];
    if (last?.position !== position) this.#samples.push({ at, position });
    const keepFrom = at - Math.max(2 * this.#maxLag, 10 * this.#interval);
    while (this.#samples.length > 1 && (this.#samples[1]?.at ?? Infinity) <= keepFrom) this.#samples.shift();
    if (this.#samples.length > 512) this.#samples.splice(0, this.#samples.length - 512);
  }

  // Lag is what the data misses: the age of the oldest primary position (as this monitor first saw
  // it) that the replica has not applied, 0 when it has the latest. Only a gap older than the
  // monitor's history falls back on the engine's own estimate (PostgreSQL: time since the last
  // replayed commit, which a quiet primary makes far too large once the gap is dated; MariaDB:
  // Seconds_Behind_Master), and then it is at least the time the monitor has watched.
  #measureLag(s: NodeState, r: ProbeResult, startedAt: number): void {
    let lag = r.lagMillis;
    let from: 'positions' | 'engine' = 'engine';
    let distance: number | undefined;
    const replay = r.replayPosition;
    const samples = this.#samples.filter((x) => x.at <= startedAt);
    if (replay !== undefined && samples.length > 0) {
      const missing = samples.findIndex((x) => !this.#prober.reached(replay, x.position));
      if (missing === -1) {
        lag = 0;
        from = 'positions';
      } else if (missing > 0) {
        lag = startedAt - samples[missing]!.at;
        from = 'positions';
      } else {
        lag = r.lagMillis === undefined ? undefined : Math.max(r.lagMillis, startedAt - samples[0]!.at);
      }
      const latest = this.#samples[this.#samples.length - 1];
      if (latest) distance = this.#prober.distance(replay, latest.position);
    }
    s.lagMillis = lag;
    s.lagFrom = from;
    s.lagPosition = distance;
    const alias = s.node.alias;
    if (!s.lagging) {
      if (s.lagMillis === undefined || s.lagMillis > this.#maxLag) {
        s.lagging = true;
        s.goodLagChecks = 0;
        this.#emit('lagging', { alias, lagMillis: s.lagMillis, lagPosition: s.lagPosition });
      }
    } else if (s.lagMillis !== undefined && s.lagMillis <= this.#caughtUpLag) {
      if (++s.goodLagChecks >= this.#checksBeforeUp) {
        s.lagging = false;
        s.goodLagChecks = 0;
        this.#emit('caught-up', { alias, lagMillis: s.lagMillis });
      }
    } else {
      s.goodLagChecks = 0;
    }
  }

  #evaluateSafely(): void {
    try {
      this.#evaluate();
    } catch (e) {
      this.#emit('error', e instanceof Error ? e : new Error(String(e)));
    }
  }

  // Cluster-wide conclusions from the latest check of every node: who is primary, split brain,
  // configuration problems. Runs after every check.
  #evaluate(): void {
    const states = [...this.#nodes.values()];
    const claiming = states.filter((s) => s.reachable === true && s.result?.role === 'primary').map((s) => s.node.alias);
    if (claiming.length > 1) {
      const key = claiming.join(',');
      if (this.#splitBrain?.join(',') !== key) {
        this.#splitBrain = claiming;
        this.#emit('split-brain', { aliases: claiming });
      }
    } else {
      this.#splitBrain = undefined;
    }
    const only = claiming.length === 1 ? this.#nodes.get(claiming[0]!) : undefined;
    if (only) {
      const to = only.node.alias;
      if (only.health === 'down') this.#up(only);
      if (to !== this.#primary) {
        const from = this.#primary;
        this.#primary = to;
        this.#samples = [];
        if (only.result) this.#sample(only.lastGoodCheckAt ?? this.#clock.now(), only.result.position);
        this.#primaryLost = false;
        this.#emit('primary-changed', { from, to });
      }
      this.#primaryLost = false;
    } else if (claiming.length === 0 && this.#primary !== undefined && !this.#primaryLost) {
      const p = this.#nodes.get(this.#primary);
      const reason = p?.health === 'down' ? 'down' : p?.reachable === true && p.result?.role === 'replica' ? 'became-replica' : undefined;
      if (reason) {
        this.#primaryLost = true;
        const event: PrimaryLostEvent = { alias: this.#primary, reason };
        this.#emit('primary-lost', event);
        this.#callPrimaryLost(event);
      }
    }
    for (const s of states) this.#findProblems(s);
    this.#resolveWaiters();
  }

  #findProblems(s: NodeState): void {
    const r = s.result;
    if (!r || s.reachable !== true) return;
    const alias = s.node.alias;
    const found = new Map<NodeProblem['kind'], string>();
    if (s.node.configuredRole === 'primary' && r.role === 'replica') {
      found.set('configured-primary-is-replica', `Node "${alias}" is configured as the primary but reports being a replica${r.upstream ? ` of ${r.upstream}` : ''}.`);
    }
    const primaryAddress = this.#primary === undefined ? undefined : this.#nodes.get(this.#primary)?.node.address;
    if (r.role === 'replica' && r.upstream && primaryAddress && alias !== this.#primary && !sameAddress(r.upstream, primaryAddress)) {
      found.set('upstream-mismatch', `Replica "${alias}" replicates from ${r.upstream}, not from the primary "${this.#primary}" (${primaryAddress}).`);
    }
    if (r.limited) found.set('limited-check', `Node "${alias}": ${r.limited}`);
    if (r.role === 'replica' && alias !== this.#primary) {
      if (r.replicationStopped) found.set('replication-stopped', `Replica "${alias}" no longer replicates: ${r.replicationStopped}. It is out of the reads until replication runs again.`);
      else if (r.notStreaming && this.#primaryAvailable()) {
        // A replica's stream also breaks when the primary dies, and the replica may be checked first:
        // it leaves the reads only once a primary check begun after this one answered (so a dead
        // primary is found down first, and the replica keeps serving). Until then the last verdict stands.
        const p = this.#nodes.get(this.#primary!)!;
        if (checkedAfter(p, s)) {
          found.set('replication-stopped', `Replica "${alias}" does not replicate from the primary "${this.#primary}": ${r.notStreaming}. It is out of the reads until it streams again.`);
        } else {
          const before = s.problems.get('replication-stopped');
          if (before !== undefined) found.set('replication-stopped', before);
          void this.#check(p);
        }
      }
      this.#checkDivergence(s, r);
      if (s.diverged) found.set('diverged', s.diverged);
    } else {
      s.diverged = undefined;
    }
    for (const [kind, message] of found) {
      if (s.problems.get(kind) !== message) this.#emit('problem', { alias, kind, message });
    }
    s.problems = found;
  }

  // A replica's positions against the primary's, read after them (a write in between would make
  // any replica look ahead of an older primary position). Without a fresh enough primary check the
  // last verdict stands.
  #checkDivergence(s: NodeState, r: ProbeResult): void {
    const prober = this.#prober;
    const p = this.#primary === undefined ? undefined : this.#nodes.get(this.#primary);
    const primaryPos = p?.result?.role === 'primary' && p.reachable === true ? p.result.position : undefined;
    if (!prober.holdsMore || primaryPos === undefined || p === undefined || !checkedAfter(p, s)) return;
    const held = r.heldPositions ?? (r.replayPosition !== undefined ? [r.replayPosition] : []);
    const extra = held.find((pos) => prober.holdsMore?.(pos, primaryPos) === true);
    s.diverged = extra === undefined ? undefined
      : `Replica "${s.node.alias}" holds transactions the primary "${this.#primary}" lacks (it is at ${extra}, the primary at ${primaryPos || '(empty)'}): its history split from the primary's. ` +
        'It is out of the reads; rebuild it from the primary.';
  }

  #callPrimaryLost(event: PrimaryLostEvent): void {
    const hook = this.#onPrimaryLost;
    if (!hook) return;
    try {
      Promise.resolve(hook(event)).catch((e: unknown) => this.#emit('error', wrapHookError(e)));
    } catch (e) {
      this.#emit('error', wrapHookError(e));
    }
  }

  // Events never throw into the monitor: a throwing listener becomes an 'error' event, and an
  // 'error' with no listener is dropped rather than crashing the process.
  #emit<K extends keyof HealthMonitorEvents>(name: K, ...args: HealthMonitorEvents[K]): void {
    if (name === 'error') {
      if (this.listenerCount('error') === 0) return;
      try {
        (this.emit as (n: string, ...a: unknown[]) => boolean)('error', ...args);
      } catch {
        // An 'error' listener that throws has nowhere left to report to.
      }
      return;
    }
    try {
      (this.emit as (n: string, ...a: unknown[]) => boolean)(name, ...args);
    } catch (e) {
      this.#emit('error', e instanceof Error ? e : new Error(String(e)));
    }
  }
}

function newState(node: MonitoredNode): NodeState {
  return {
    node,
    probe: undefined,
    health: 'unknown',
    reachable: undefined,
    suspect: false,
    failures: 0,
    successes: 0,
    lagging: false,
    goodLagChecks: 0,
    result: undefined,
    lagMillis: undefined,
    lagPosition: undefined,
    lagFrom: undefined,
    diverged: undefined,
    lastGoodCheckStartSeq: -1,
    lastGoodCheckEndSeq: -1,
    rttMillis: undefined,
    lastCheckAt: undefined,
    lastGoodCheckAt: undefined,
    lastError: undefined,
    problems: new Map(),
    inFlight: undefined,
    again: false,
    timer: undefined,
  };
}

/**
 * Validates the monitor's timing options and fills in their defaults; `CONFIG_INVALID` names the
 * option. Exported so a cluster can check its `health` option at construction.
 */
export function checkMonitorOptions(o: Omit<HealthMonitorOptions, 'nodes' | 'prober' | 'clock'>): {
  interval: number; timeout: number; failuresBeforeDown: number; checksBeforeUp: number;
  maxLag: number; caughtUpLag: number; minReplicas: number; searchInterval: number;
} {
  const maxLag = positive('maxReplicationLagMillis', o.maxReplicationLagMillis ?? 10_000);
  const caughtUpLag = o.caughtUpLagMillis ?? maxLag / 2;
  if (!(caughtUpLag >= 0 && caughtUpLag <= maxLag)) {
    throw new DbRouterError('CONFIG_INVALID', 'caughtUpLagMillis must be between 0 and maxReplicationLagMillis.');
  }
  const minReplicas = o.minReplicasInRotation ?? 0;
  if (!(Number.isInteger(minReplicas) && minReplicas >= 0)) {
    throw new DbRouterError('CONFIG_INVALID', 'minReplicasInRotation must be a whole number, 0 or more.');
  }
  if (o.onPrimaryLost !== undefined && typeof o.onPrimaryLost !== 'function') {
    throw new DbRouterError('CONFIG_INVALID', 'onPrimaryLost must be a function.');
  }
  return {
    interval: positive('checkIntervalMillis', o.checkIntervalMillis ?? 1000),
    timeout: positive('checkTimeoutMillis', o.checkTimeoutMillis ?? 1000),
    failuresBeforeDown: positive('failuresBeforeDown', o.failuresBeforeDown ?? 2),
    checksBeforeUp: positive('checksBeforeUp', o.checksBeforeUp ?? 2),
    maxLag,
    caughtUpLag,
    minReplicas,
    searchInterval: positive('primarySearchIntervalMillis', o.primarySearchIntervalMillis ?? 50),
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Keeps the process alive while `p` is pending. The monitor's own timers and sockets are unref'd
 * (background checks must not keep a finished script running), so something awaited on them (the
 * first checks, a write waiting for a primary) needs one ref'd handle, or Node would exit mid-await.
 */
export function holdOpen<T>(p: Promise<T>): Promise<T> {
  const keep = setInterval(() => undefined, 1 << 30);
  const release = (): void => clearInterval(keep);
  p.then(release, release);
  return p;
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new DbRouterError('CONFIG_INVALID', `${name} must be a positive number, got ${String(value)}.`);
  }
  return value;
}

function splitBrainError(aliases: readonly string[]): DbRouterError {
  return new DbRouterError(
    'SPLIT_BRAIN',
    `Writes refused: ${aliases.join(' and ')} all report being primary. Demote all but one (or fence them); writes resume once only one is primary.`,
  );
}

function wrapHookError(e: unknown): DbRouterError {
  return new DbRouterError('ROUTER_ERROR', 'The onPrimaryLost hook failed.', { cause: e });
}

function describe(e: unknown): string {
  const auth = authFailure(e);
  if (auth !== undefined) return auth;
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    const text = e.message || e.name;
    return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
  }
  return String(e);
}
