import { EventEmitter } from 'node:events';
import type { Cluster } from '../cluster/cluster.js';
import { INTERNALS } from '../routing/contracts.js';
import { errorCode } from '../engines/engine.js';
import { mariadbProber } from '../engines/mysql/probe.js';
import { postgresProber, type ProbeConnection } from '../engines/postgres/probe.js';
import { DbRouterError } from '../errors.js';
import type { NodeState } from '../routing/topology.js';
import { HealthMonitor, type HealthMonitorEvents, type HealthMonitorOptions, type HealthStatus } from './monitor.js';
import type { MonitoredNode, Prober } from './probe.js';

/**
 * Options of {@link watchCluster}: the monitor's (see {@link HealthMonitorOptions}) plus failover.
 *
 * @example
 *   watchCluster(cluster, { maxReplicationLagMillis: 2000, failoverTimeoutMillis: 5000 })
 */
export interface ClusterHealthOptions extends Omit<HealthMonitorOptions, 'nodes' | 'prober'> {
  /**
   * How long a write waits for a primary when there is none (it is down, being replaced, or two
   * claim it) before failing with `PRIMARY_UNAVAILABLE`. Reads go on meanwhile. Default 10000.
   */
  readonly failoverTimeoutMillis?: number;
  /**
   * Credentials for the monitoring connections, when the application's user may not read
   * replication status (MariaDB: `SLAVE MONITOR`; PostgreSQL: `pg_read_all_stats` for the upstream).
   */
  readonly monitor?: { readonly user: string; readonly password?: string };
  /** Replaces the engine's prober (tests). */
  readonly prober?: Prober;
}

const EVENTS = ['node-down', 'node-up', 'lagging', 'caught-up', 'primary-changed', 'primary-lost', 'split-brain', 'problem', 'check'] as const;

/**
 * A cluster kept healthy by a {@link HealthMonitor}: late or dead replicas leave the reads and come
 * back, a read that meets a dead connection is retried once elsewhere, writes wait for a new
 * primary after a failover (up to `failoverTimeoutMillis`) and are refused during split brain.
 * Emits the monitor's events. `cluster.end()` stops it.
 *
 * @example
 *   const health = watchCluster(cluster, { maxReplicationLagMillis: 2000 });
 *   health.on('primary-changed', ({ from, to }) => log.warn(`primary is now ${to} (was ${from})`));
 *   await health.start();
 */
export class ClusterHealth extends EventEmitter<HealthMonitorEvents> {
  readonly #cluster: Cluster;
  readonly #options: ClusterHealthOptions;
  readonly #failoverTimeout: number;
  #monitor: HealthMonitor | undefined;
  #starting: Promise<void> | undefined;
  #stopped = false;

  constructor(cluster: Cluster, options: ClusterHealthOptions = {}) {
    super();
    this.#cluster = cluster;
    this.#options = options;
    this.#failoverTimeout = options.failoverTimeoutMillis ?? 10_000;
    if (!(this.#failoverTimeout >= 0)) throw new DbRouterError('CONFIG_INVALID', 'failoverTimeoutMillis must be 0 or more.');
  }

  /** The monitor, once `start()` has begun. */
  get monitor(): HealthMonitor | undefined {
    return this.#monitor;
  }

  /** Learns the roles (`cluster.ready()`), checks every node once, and installs the failover hooks. Idempotent. */
  start(): Promise<void> {
    if (this.#stopped) return Promise.reject(new DbRouterError('POOL_ENDED', 'Cannot start cluster health after stop().'));
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    await this.#cluster.ready();
    const cx = this.#cluster[INTERNALS];
    const roles = new Map(this.#cluster.describe().map((d) => [d.alias, d.role]));
    const nodes: MonitoredNode[] = cx.nodes.map((n) => ({
      alias: n.alias,
      configuredRole: roles.get(n.alias) ?? 'replica',
      address: `${n.connection.host}:${n.connection.port}`,
    }));
    const connections: Record<string, ProbeConnection> = Object.fromEntries(cx.nodes.map((n) => [n.alias, n.connection]));
    const o = this.#options;
    const timeout = o.checkTimeoutMillis ?? 1000;
    const proberOptions = { connections, connectTimeoutMillis: timeout, queryTimeoutMillis: timeout, ...(o.monitor ? { monitor: o.monitor } : {}) };
    const prober = o.prober ?? (cx.engine.name === 'postgres' ? postgresProber(proberOptions) : mariadbProber(proberOptions));
    const monitor = new HealthMonitor({ ...o, nodes, prober });
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
    this.#cluster.setFailoverHooks({
      beforeWrite: () => this.#beforeWrite(),
      connectionError: (alias, err, write) => this.#connectionError(alias, err, write),
      status: () => monitor.status(),
    });
    cx.track(this);
    await monitor.start();
    this.#sync();
  }

  /** Stops the monitor and removes the failover hooks. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#cluster.setFailoverHooks(undefined);
    this.#cluster[INTERNALS].untrack(this);
    await this.#starting?.catch(() => undefined);
    await this.#monitor?.stop();
  }

  /** What `cluster.end()` calls. */
  end(): Promise<void> {
    return this.stop();
  }

  /** The monitor's snapshot: every node's state, role, lag, rtt, upstream, problems; the primary. */
  status(): HealthStatus {
    if (!this.#monitor) throw new DbRouterError('NOT_READY', 'Cluster health has not started; call start() first.');
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
  // `up`; the others `lagging` or `down`; the primary `up` while it takes writes.
  #sync(): void {
    const m = this.#monitor;
    if (!m) return;
    const st = m.status();
    const readable = new Set(st.readableReplicas);
    for (const n of st.nodes) {
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
 * Watches a cluster's nodes and keeps its routing healthy (see {@link ClusterHealth}). Call
 * `start()` on the result.
 *
 * @example
 *   const health = watchCluster(cluster, { failoverTimeoutMillis: 5000 });
 *   await health.start();
 *   health.status().readableReplicas // ['replica1', 'replica2']
 */
export function watchCluster(cluster: Cluster, options?: ClusterHealthOptions): ClusterHealth {
  return new ClusterHealth(cluster, options);
}
