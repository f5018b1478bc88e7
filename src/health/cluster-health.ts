import { EventEmitter } from 'node:events';
import { INTERNALS, type HasInternals } from '../routing/contracts.js';
import type { Role } from '../routing/router.js';
import { errorCode } from '../engines/engine.js';
import { mariadbProber } from '../engines/mysql/probe.js';
import { postgresProber, type ProbeConnection } from '../engines/postgres/probe.js';
import { DbRouterError } from '../errors.js';
import type { NodeState } from '../routing/topology.js';
import { HEALTH, type FailoverHooks } from './failover-hooks.js';
import { checkMonitorOptions, HealthMonitor, holdOpen, type HealthMonitorEvents, type HealthMonitorOptions, type HealthStatus } from './monitor.js';
import type { MonitoredNode, Prober } from '../engines/probe.js';
import { checkClusterHealthOptions } from './options.js';

/**
 * Options of {@link watchCluster}: the monitor's (see {@link HealthMonitorOptions}) plus failover.
 *
 * @example
 *   watchCluster(cluster, { maxReplicationLagMillis: 2000, failoverTimeoutMillis: 5000 })
 */
export interface ClusterHealthOptions extends Omit<HealthMonitorOptions, 'nodes' | 'prober'> {
  /**
   * How long a write waits for a primary when there is none (it is down, being replaced, or two
   * claim it, or none answered at start) before failing with `PRIMARY_UNAVAILABLE`. Reads go on
   * meanwhile. Default 10000.
   */
  readonly failoverTimeoutMillis?: number;
  /**
   * Credentials for the monitoring connections, when the application's user may not read
   * replication status (MariaDB: `SLAVE MONITOR`; PostgreSQL: `pg_read_all_stats` for the upstream).
   */
  readonly monitor?: {
    /** The user the monitor connects as, on every node. */
    readonly user: string;
    /** Its password; left out, none is sent (the application's is not used). */
    readonly password?: string;
  };
  /** Replaces the engine's prober (tests). */
  readonly prober?: Prober;
}

const EVENTS = ['node-down', 'node-up', 'lagging', 'caught-up', 'primary-changed', 'primary-lost', 'split-brain', 'problem', 'check'] as const;

/** The check bound when none is given: also the bound on asking a node its role at start. */
export const DEFAULT_CHECK_TIMEOUT_MILLIS = 1000;

/**
 * What cluster health needs from a cluster: a `Cluster` is one. The health layer sits below the
 * cluster, so it names what it uses instead of importing the cluster's class.
 */
export interface WatchedCluster extends HasInternals {
  /** Resolves once every node's role is known (see `Cluster.ready`). */
  ready(): Promise<void>;
  /** Each node's alias and role (`undefined` while a node has not answered). */
  describe(): readonly {
    /** The node's alias. */
    readonly alias: string;
    /** Its role; `undefined` while not known. */
    readonly role: Role | undefined;
  }[];
  /** Takes a node out of the reads (`down`, `lagging`) or puts it back (`up`). */
  setNodeState(alias: string, state: NodeState): void;
  /** Destroys the routed pools' connections to `alias`; returns how many. */
  closeNodeConnections(alias: string, reason: string): number;
  /** Records a role change the monitor saw (a promotion); routing follows at once. */
  setRole(alias: string, role: Role): void;
  /** Installs the monitor's failover hooks (writes wait for a primary), or removes them with `undefined`. */
  setFailoverHooks(hooks: FailoverHooks | undefined): void;
  /** The cluster's own `ClusterHealth`, tuned with `options` (what `watchCluster` returns). */
  [HEALTH](options?: ClusterHealthOptions): ClusterHealth;
}

/**
 * A cluster kept healthy by a {@link HealthMonitor}: late or dead replicas leave the reads and come
 * back, a read that meets a dead connection is retried once elsewhere, writes wait for a new
 * primary after a failover (up to `failoverTimeoutMillis`) and are refused during split brain, and
 * a node whose role was unknown at start (it did not answer) joins once it answers. Emits the
 * monitor's events.
 *
 * Every cluster has one, on by default: it starts at the cluster's first use (its first routed
 * statement or `cluster.ready()`), never keeps a process alive, and stops with `cluster.end()`.
 * `createCluster({ health: { … } })` or `watchCluster(cluster, { … })` tune it; `health: false` turns
 * it off (then `watchCluster(cluster).start()` starts it by hand).
 *
 * @example
 *   const health = watchCluster(cluster, { maxReplicationLagMillis: 2000 });
 *   health.on('primary-changed', ({ from, to }) => log.warn(`primary is now ${to} (was ${from})`));
 *   await health.start();
 */
export class ClusterHealth extends EventEmitter<HealthMonitorEvents> {
  readonly #cluster: WatchedCluster;
  #options: ClusterHealthOptions;
  #failoverTimeout: number;
  #monitor: HealthMonitor | undefined;
  #firstChecks: Promise<void> | undefined;
  #attachError: Error | undefined;
  #stopped = false;

  /** A cluster's health, not started: `watchCluster(cluster, options)` returns the cluster's own and is what to call. */
  constructor(cluster: WatchedCluster, options: ClusterHealthOptions = {}) {
    super();
    this.#cluster = cluster;
    this.#options = {};
    this.#failoverTimeout = 10_000;
    this.#merge(options);
  }

  /** The monitor, once the cluster's first use (or `start()`) has begun. */
  get monitor(): HealthMonitor | undefined {
    return this.#monitor;
  }

  /** Bound on one check, connecting included (and on asking a node its role at start). */
  get checkTimeoutMillis(): number {
    return this.#options.checkTimeoutMillis ?? DEFAULT_CHECK_TIMEOUT_MILLIS;
  }

  /** Whether `stop()` (or `cluster.end()`) has run. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Changes options; the ones left out keep their value. Before the cluster's first use this only
   * records them; afterwards the running monitor takes them at its next check (a new `prober`,
   * `monitor` credentials or `checkTimeoutMillis` reopen its connections). `clock` cannot change
   * once the monitor runs.
   */
  configure(options: ClusterHealthOptions): this {
    const m = this.#monitor;
    if (m !== undefined && options.clock !== undefined && options.clock !== this.#options.clock) {
      throw new DbRouterError('CONFIG_INVALID', 'clock can be set only before the cluster is first used (createCluster({ health: { clock } })).');
    }
    this.#merge(options);
    if (m !== undefined) {
      const reconnect = options.prober !== undefined || options.monitor !== undefined || options.checkTimeoutMillis !== undefined;
      const { failoverTimeoutMillis: _f, monitor: _m, prober: _p, clock: _c, ...tuning } = this.#options;
      m.reconfigure({ ...tuning, ...(reconnect ? { prober: this.#prober() } : {}) });
    }
    return this;
  }

  #merge(options: ClusterHealthOptions): void {
    checkClusterHealthOptions(options);
    const next: ClusterHealthOptions = { ...this.#options };
    for (const [k, v] of Object.entries(options)) if (v !== undefined) (next as Record<string, unknown>)[k] = v;
    checkMonitorOptions(next);
    const failoverTimeout = next.failoverTimeoutMillis ?? 10_000;
    if (!(typeof failoverTimeout === 'number' && failoverTimeout >= 0)) throw new DbRouterError('CONFIG_INVALID', 'failoverTimeoutMillis must be 0 or more.');
    this.#options = next;
    this.#failoverTimeout = failoverTimeout;
  }

  /**
   * Learns the roles (`cluster.ready()`), starts the monitor if the cluster has not yet, and
   * resolves once every node has had its first check (each bounded by `checkTimeoutMillis`).
   * Idempotent.
   */
  start(): Promise<void> {
    if (this.#stopped) return Promise.reject(new DbRouterError('POOL_ENDED', 'Cannot start cluster health after stop() or cluster.end().'));
    return holdOpen(this.#cluster.ready().then(() => {
      const first = this.attach();
      if (this.#attachError !== undefined) throw this.#attachError;
      return first;
    }));
  }

  /**
   * @internal Builds the monitor, installs the failover hooks and begins the first checks; returns
   * them (each bounded by `checkTimeoutMillis`): what the cluster awaits at its first use.
   * Idempotent; nothing after `stop()`.
   */
  attach(): Promise<void> | undefined {
    if (this.#monitor !== undefined || this.#attachError !== undefined || this.#stopped) return this.#firstChecks;
    const cx = this.#cluster[INTERNALS];
    const roles = new Map(this.#cluster.describe().map((d) => [d.alias, d.role]));
    const nodes: MonitoredNode[] = cx.nodes.map((n) => ({
      alias: n.alias,
      configuredRole: roles.get(n.alias) ?? 'replica',
      address: `${n.connection.host}:${n.connection.port}`,
    }));
    const { failoverTimeoutMillis: _f, monitor: _m, prober: _p, ...o } = this.#options;
    let monitor: HealthMonitor;
    try {
      monitor = new HealthMonitor({ ...o, nodes, prober: this.#prober() });
    } catch (e) {
      // Several primaries (byTable/multiPrimary over separate databases): one monitor follows one
      // primary, so such a cluster runs without one; start() reports why.
      this.#attachError = e instanceof Error ? e : new Error(String(e));
      return undefined;
    }
    this.#monitor = monitor;
    for (const name of EVENTS) monitor.on(name, (...args: unknown[]) => (this.emit as (n: string, ...a: unknown[]) => boolean)(name, ...args));
    monitor.on('error', (e) => {
      if (this.listenerCount('error') > 0) this.emit('error', e);
    });
    // Roles first: a waiting write is released right after this event and must find the new primary.
    // The old primary leaves the reads before it becomes a replica in the topology (it is most
    // likely dead; the checks bring it back once it really serves as a replica).
    monitor.on('primary-changed', ({ from, to }) => {
      if (from !== undefined) {
        this.#cluster.setNodeState(from, 'down');
        this.#cluster.setRole(from, 'replica');
      }
      this.#cluster.setRole(to, 'primary');
      this.#sync();
    });
    monitor.on('check', () => this.#sync());
    // A node that failed its bounded checks: statements in flight on its connections would wait for
    // TCP to give up (minutes on a silent network), so its connections go, after the cluster has
    // taken it out of routing (a cut read is retried elsewhere, not there). Only then: a suspect
    // node, a lagging one or one answering slowly within the check bound keeps its connections.
    monitor.on('node-down', ({ alias, error, unreachable }) => {
      if (!unreachable) return;
      this.#sync();
      this.#cluster.closeNodeConnections(alias, error ?? 'unreachable');
    });
    this.#cluster.setFailoverHooks({
      beforeWrite: () => this.#beforeWrite(),
      connectionError: (alias, err, write) => this.#connectionError(alias, err, write),
      status: () => monitor.status(),
    });
    this.#firstChecks = monitor.start().then(() => this.#sync());
    this.#firstChecks.catch(() => undefined);
    return this.#firstChecks;
  }

  #prober(): Prober {
    const o = this.#options;
    if (o.prober !== undefined) return o.prober;
    const cx = this.#cluster[INTERNALS];
    const connections: Record<string, ProbeConnection> = Object.fromEntries(cx.nodes.map((n) => [n.alias, n.connection]));
    const timeout = this.checkTimeoutMillis;
    const proberOptions = { connections, connectTimeoutMillis: timeout, queryTimeoutMillis: timeout, ...(o.monitor ? { monitor: o.monitor } : {}) };
    return cx.engine.name === 'postgres' ? postgresProber(proberOptions) : mariadbProber(proberOptions);
  }

  /** Stops the monitor (closing its connections, each within `checkTimeoutMillis`) and removes the failover hooks. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#cluster.setFailoverHooks(undefined);
    // The monitor's connections are unref'd: an awaited stop holds the process until it is done (bounded).
    if (this.#monitor !== undefined) await holdOpen(this.#monitor.stop());
  }

  /** What `cluster.end()` calls. */
  end(): Promise<void> {
    return this.stop();
  }

  /** The monitor's snapshot: every node's state, role, lag, rtt, upstream, problems; the primary. */
  status(): HealthStatus {
    if (!this.#monitor) throw new DbRouterError('NOT_READY', 'Cluster health has not started: it starts at the cluster\'s first use, or call start().');
    return this.#monitor.status();
  }

  #beforeWrite(): Promise<void> | undefined {
    const m = this.#monitor;
    if (!m || m.primary() !== undefined) return undefined;
    return m.writablePrimary(this.#failoverTimeout).then(() => undefined);
  }

  #connectionError(alias: string, err: unknown, write: boolean): boolean {
    const m = this.#monitor;
    if (!m) return false;
    m.markSuspect(alias);
    this.#sync();
    // A read is safe to run again; a write only when it provably never reached the server.
    return !write || neverSent(err);
  }

  // The cluster's per-node availability, from the monitor's view: replicas that serve reads are
  // `up`; the others `lagging` or `down`; the primary `up` while it takes writes. A node whose role
  // the cluster does not know yet (it did not answer at start) stays `down` until a check tells its
  // role; then it joins.
  #sync(): void {
    const m = this.#monitor;
    if (!m || this.#stopped) return;
    const st = m.status();
    const readable = new Set(st.readableReplicas);
    const roles = new Map(this.#cluster.describe().map((d) => [d.alias, d.role]));
    for (const n of st.nodes) {
      if (roles.get(n.alias) === undefined) {
        const learned = (n.role === 'replica' && n.state === 'up') || (n.role === 'primary' && n.alias === st.primary);
        if (!learned) {
          this.#cluster.setNodeState(n.alias, 'down');
          continue;
        }
        this.#cluster.setRole(n.alias, n.role);
      }
      let state: NodeState;
      if (n.alias === st.primary) state = st.primaryAvailable ? 'up' : 'down';
      else if (readable.has(n.alias)) state = 'up';
      else state = n.state !== 'down' && !n.suspect && n.lagging ? 'lagging' : 'down';
      this.#cluster.setNodeState(n.alias, state);
    }
  }
}

const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', '57P03']);

function neverSent(err: unknown): boolean {
  const code = errorCode(err);
  return typeof code === 'string' && NEVER_SENT.has(code);
}

/**
 * The cluster's health monitor (see {@link ClusterHealth}), tuned with `options`: every cluster
 * already has one, started at its first use, so this returns that one (never a second monitor).
 * `start()` on the result waits for the first check of every node.
 *
 * @example
 *   const health = watchCluster(cluster, { failoverTimeoutMillis: 5000 });
 *   await health.start();
 *   health.status().readableReplicas // ['replica1', 'replica2']
 */
export function watchCluster(cluster: WatchedCluster, options?: ClusterHealthOptions): ClusterHealth {
  return cluster[HEALTH](options);
}
