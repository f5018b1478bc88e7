import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import { DbRouterError, isDbRouterError } from '../errors.js';
import { createClassifier } from '../sql/index.js';
import type { Classification } from '../sql/types.js';
import { decide, RouterChain, type RouteDecision } from '../routing/decide.js';
import { readOnlyRefusal, readOnlyRefuses } from '../routing/read-only.js';
import { primaryReplica } from '../routing/primary-replica.js';
import type { Hints, MigrateContext, NodeInfo, Role } from '../routing/router.js';
import { currentScope, enterScope, revertScope, runInScope, type ScopeFrame, type ScopeHandle } from '../routing/scopes.js';
import { NodeCounters, Topology, type NodeState, type ReadGate } from '../routing/topology.js';
import { createCommenter, type Commenter } from '../routing/sql-comment.js';
import { resolveConfig, suggest, type ClusterConfig, type ResolvedNode } from './config.js';
import {
  CLOSE_NODE_CONNECTIONS, CONSISTENCY, INTERNALS, NODE_POOL_COUNTS,
  type ClosesNodeConnections, type ClusterInternals, type ConnectionOptions, type CountsConnections, type Engine, type EngineName, type WriteEvent, type WriteHook,
} from '../routing/contracts.js';
import { HEALTH, type FailoverHooks } from '../health/failover-hooks.js';
import { Stats, type QueryLogEntry, type StatsSnapshot } from './stats.js';
import { authFailure } from '../health/auth.js';
import { holdOpen, type HealthStatus } from '../health/monitor.js';
import { ClusterHealth, type ClusterHealthOptions } from '../health/cluster-health.js';
import { withTimeout } from '../engines/bounds.js';
import { ConsistencyLayer, type ConsistencyStats } from '../consistency/consistency.js';
import { resolveConsistency, type ConsistencyLevel } from '../consistency/levels.js';

/** A node's public description: no password. */
export interface NodeDescription {
  /** The node's alias, the key in `databases`. */
  readonly alias: string;
  /** The role routing uses; `undefined` while a role left out of the configuration is not yet asked of the server. */
  readonly role: Role | undefined;
  /** Its share of reads for the `weighted` strategy (1 by default). */
  readonly weight: number;
  /** `scheme://user:***@host:port/database`: the address without its password. */
  readonly url: string;
  /** `up`, `down` or `lagging`: what the health monitor (or `setNodeState`) last said; `up` until then. */
  readonly state: NodeState;
}

/** A migration target handed to `cluster.migrate(fn)`: one alias, and a pool whose every statement runs there. */
export interface MigrationTarget<P = unknown> {
  /** The alias migrated. */
  readonly alias: string;
  /** Its role (always `primary`: a replica target is refused before anything runs). */
  readonly role: Role;
  /** A routed pool of the cluster's engine pinned to `alias` (a `RoutedPgPool` or `RoutedMysqlPool`), ended after `fn`. */
  readonly pool: P;
}

/** Where `enter()` sends statements. */
export type ScopeTarget = 'primary' | 'replica' | {
  /** Every statement runs on this alias. */
  readonly alias: string;
};

/**
 * A set of databases of one engine and the routers that choose among them. Create one per
 * process, make pools from it (`createPgPool(cluster)`, `createMysqlPool(cluster)`).
 *
 * Events: `'route'` (one {@link RouteEvent} per statement), `'misroute'` (a write a replica refused,
 * re-run on the primary), `'nodeState'` (`alias, state`), `'error'` (background errors, only when
 * listened to).
 *
 * @example
 *   const cluster = createCluster({ databases: { default: 'postgres://app:pw@db1/shop', replica1: 'postgres://app:pw@db2/shop' } });
 *   const pool = createPgPool(cluster);
 *   await pool.query('SELECT * FROM users WHERE id = $1', [1]); // a replica
 */
export class Cluster extends EventEmitter {
  readonly #engine: Engine;
  readonly #nodes: readonly ResolvedNode[];
  readonly #aliasIndex: ReadonlyMap<string, number>;
  readonly #roles: (Role | undefined)[];
  readonly #counters: NodeCounters;
  readonly #gates: ReadGate[] = [];
  readonly #writeHooks: WriteHook[] = [];
  readonly #chain: RouterChain;
  readonly #classifier: { classify(sql: string): Classification };
  readonly #stats: Stats;
  readonly #discover: ((alias: string, c: ConnectionOptions) => Promise<Role>) | undefined;
  readonly #pools = new Set<{ end(): Promise<void> }>();
  readonly #internals: ClusterInternals;
  #topology: Topology | undefined;
  #readying: Promise<void> | undefined;
  #pin: NodeInfo | undefined;
  #pinAlias: string | undefined;
  #failover: FailoverHooks | undefined;
  readonly #consistency: ConsistencyLayer;
  readonly #onConnect: readonly string[] | undefined;
  readonly #sqlComment: Commenter | undefined;
  #health: ClusterHealth | undefined;
  // Health starts by itself at the first use unless the configuration says `health: false`.
  readonly #healthAuto: boolean;
  // Ready for the routed pools' fast path: roles known (or left to the monitor) and health started.
  #live = false;
  #discovered = false;
  #ended = false;

  /** The same as {@link createCluster}: validates `config` at once and throws `CONFIG_INVALID` naming the key to fix. */
  constructor(config: ClusterConfig) {
    super();
    const resolved = resolveConfig(config);
    this.#onConnect = config.onConnect === undefined ? undefined : Object.freeze([...config.onConnect]);
    this.#sqlComment = config.sqlComment === undefined || config.sqlComment === false ? undefined : createCommenter(config.sqlComment, resolved.nodes.length);
    this.#engine = resolved.engine;
    this.#nodes = resolved.nodes;
    this.#aliasIndex = new Map(this.#nodes.map((n, i) => [n.alias, i]));
    this.#roles = this.#nodes.map((n) => n.role);
    this.#counters = new NodeCounters(this.#nodes.length);
    this.#chain = new RouterChain(config.routers ?? [primaryReplica()]);
    this.#discover = config.discoverRole;
    this.#classifier = createClassifier({
      dialect: this.#engine.dialect,
      ...(config.writeFunctions !== undefined ? { writeFunctions: config.writeFunctions } : {}),
      ...(config.classifierCacheSize !== undefined ? { cacheSize: config.classifierCacheSize } : {}),
    });
    const debug = config.debug;
    this.#stats = new Stats(this.#nodes.map((n) => n.alias), debug === true ? 1000 : debug ? (debug.maxEntries ?? 1000) : 0);
    this.#consistency = new ConsistencyLayer({
      nodes: this.#nodes,
      topology: () => this.#topology,
      route: (sql, c) => decide(this.#requireTopology(), this.#chain, sql, c, currentScope(), this.#pin),
      backgroundError: (err) => this.#internals.backgroundError(err),
      queryPrimary: (sql) => this.#queryPrimary(sql),
      health: () => this.#failover?.status(),
    }, resolveConsistency(config.consistency), this.#engine.createPositions());
    this.#gates.push(this.#consistency.gate);
    this.#writeHooks.push(this.#consistency.onWrite);
    this.#healthAuto = config.health !== false;
    if (this.#healthAuto) this.#health = new ClusterHealth(this, typeof config.health === 'object' ? config.health : {});
    if (this.#roles.every((r) => r !== undefined)) this.#rebuild();
    this.#live = this.#topology !== undefined && !this.#healthAuto;
    this.#internals = this.#makeInternals();
  }

  /** The engine name: `postgres` or `mysql` (MariaDB included). */
  get engine(): EngineName {
    return this.#engine.name;
  }

  /** The aliases, in configuration order. */
  get aliases(): readonly string[] {
    return this.#nodes.map((n) => n.alias);
  }

  /**
   * True once the cluster can route: at construction when the configuration names every role, else
   * after `ready()` (a node that did not say its role is then left to the health monitor, `down`).
   */
  get isReady(): boolean {
    return this.#topology !== undefined;
  }

  /**
   * Gets the cluster going: asks the servers whose role was left out whether they are primaries or
   * replicas, and starts the health monitor with one check of every node. Routed pools call it on
   * first use; call it yourself at start-up. Bounded: the role question and the first check each
   * within the check bound (`health.checkTimeoutMillis`, default 1000 ms), nodes in parallel; with
   * `health: false` the role question within the node's connect bound (default 5000 ms).
   *
   * With health on (the default) a node that does not answer is `down` until it does (the monitor
   * then learns its role and it joins), and `ready()` resolves with the nodes that answered; writes
   * wait for a primary if none answered (`failoverTimeoutMillis`). With `health: false` it rejects
   * with `NOT_READY` and is retried at the next use.
   */
  ready(): Promise<void> {
    if (this.#live) return Promise.resolve();
    this.#readying ??= this.#prepare().then(
      () => {
        this.#live = true;
      },
      (e: unknown) => {
        this.#readying = undefined;
        throw e;
      },
    );
    return this.#readying;
  }

  async #prepare(): Promise<void> {
    if (this.#topology === undefined || (!this.#discovered && this.#roles.includes(undefined))) await this.#discoverRoles();
    // The first checks (one round trip per node, in parallel, each within the check bound) before
    // the first statement: routing and read-your-writes then start from what the servers say.
    if (this.#healthAuto && !this.#ended) await this.#health?.attach()?.catch(() => undefined);
  }

  async #discoverRoles(): Promise<void> {
    // With a monitor, a node that does not answer now is left to it; without one, ready() fails.
    const tolerant = this.#healthAuto && this.#health !== undefined && !this.#health.stopped;
    const bound = tolerant ? this.#health!.checkTimeoutMillis : undefined;
    const failures: DbRouterError[] = [];
    await Promise.all(this.#nodes.map(async (n, i) => {
      if (this.#roles[i] !== undefined) return;
      try {
        const asking = this.#discover !== undefined ? this.#discover(n.alias, n.connection) : this.#engine.discoverRole(n.connection, bound);
        const limit = bound ?? n.connection.pool.connectionTimeoutMillis;
        this.#roles[i] = this.#discover !== undefined && limit !== undefined && limit > 0
          ? await withTimeout(asking, limit, () => new DbRouterError('NODE_DOWN', `discoverRole did not answer within ${limit} ms.`))
          : await asking;
      } catch (cause) {
        if (isDbRouterError(cause, 'DRIVER_MISSING')) throw cause;
        const auth = authFailure(cause);
        failures.push(auth !== undefined
          ? new DbRouterError('NOT_READY', `Could not ask databases.${n.alias} (${n.safeUrl}) for its role: ${auth}.`, { cause })
          : new DbRouterError('NOT_READY', `Could not ask databases.${n.alias} (${n.safeUrl}) for its role: ${cause instanceof Error ? cause.message : String(cause)}. Start it, or give its role in the configuration.`, { cause }));
      }
    }));
    if (failures.length > 0 && !tolerant) throw failures[0]!;
    if (!this.#roles.includes('primary') && !this.#roles.includes(undefined)) {
      throw new DbRouterError('CONFIG_INVALID', `No database in the cluster is a primary: every server says it is a replica (${this.aliases.join(', ')}). Point one alias at the writable server.`);
    }
    this.#discovered = true;
    this.#rebuild();
  }

  // A node whose role is not known yet routes as a replica (as the primary when no node is known to
  // be one, so that writes wait for it) and is `down` until the monitor learns its role. With no
  // primary at all (the moment between two setRole calls of a failover) the topology is kept.
  #rebuild(): void {
    const hasPrimary = this.#roles.includes('primary');
    const roles = this.#roles.map((r): Role => r ?? (hasPrimary ? 'replica' : 'primary'));
    if (!roles.includes('primary')) return;
    this.#topology = new Topology(this.#nodes.map((n, i) => ({ alias: n.alias, role: roles[i]!, weight: n.weight })), this.#counters, this.#gates);
    this.#roles.forEach((r, i) => {
      if (r === undefined) this.setNodeState(this.#nodes[i]!.alias, 'down');
    });
    if (this.#pinAlias !== undefined) this.#pin = this.#topology.node(this.#pinAlias);
  }

  #requireTopology(): Topology {
    if (this.#topology === undefined) {
      throw new DbRouterError('NOT_READY', `The roles of some databases are not known yet; await cluster.ready() first, or give every alias a role.`);
    }
    return this.#topology;
  }

  #index(alias: string, what: string): number {
    const i = this.#aliasIndex.get(alias);
    if (i === undefined) {
      throw new DbRouterError('UNKNOWN_ALIAS', `${what}: no database "${alias}" in this cluster; ${suggest(alias, this.aliases, {}, 'aliases')}`);
    }
    return i;
  }

  /** Describes every node (role, weight, URL without password, availability). */
  describe(): readonly NodeDescription[] {
    return this.#nodes.map((n, i) => ({ alias: n.alias, role: this.#roles[i], weight: n.weight, url: n.safeUrl, state: this.#counters.get(i) }));
  }

  /**
   * Where a statement would run now, in the current scope, and why; runs nothing.
   *
   * @example cluster.route('SELECT 1').node.alias // 'replica1'
   */
  route(sql: string): RouteDecision {
    return decide(this.#requireTopology(), this.#chain, sql, this.#classifier.classify(sql), currentScope(), this.#pin);
  }

  // ---- scopes -------------------------------------------------------------------------------

  /** Runs `fn` with every statement (reads too) on the primary. */
  primary<R>(fn: () => R): R {
    return runInScope(this.#frame('primary'), fn);
  }

  /** Runs `fn` with reads on replicas even where a router would not send them; writes still go to the primary. */
  replica<R>(fn: () => R): R {
    return runInScope(this.#frame('replica'), fn);
  }

  /**
   * Runs `fn` with reads on `alias` (Django's `using()`). Writes go there too when it is a primary;
   * a write in `using('replica1')` goes to the primary.
   */
  using<R>(alias: string, fn: () => R): R {
    this.#index(alias, 'using()');
    return runInScope(this.#frame('alias', alias), fn);
  }

  /**
   * Runs `fn` in a strict read-only scope (Rails' `while_preventing_writes`): a statement that
   * changes data or schema, takes a lock writers wait on (`FOR UPDATE`, `LOCK TABLE`, advisory
   * locks), or that the classifier cannot vouch for (an unknown verb, several statements in one
   * text) is refused with `READ_ONLY` before it reaches any server, on every pool and checked-out
   * client, whatever scope is nested inside. Reads, transactions, savepoints, cursors and session
   * settings run as usual. The same rule as a read-only pool (`createPgPool(cluster, { readOnly: true })`).
   *
   * @example
   *   await cluster.readOnly(() => renderReport());   // an INSERT inside rejects with code READ_ONLY
   */
  readOnly<R>(fn: () => R): R {
    const outer = currentScope();
    return runInScope({ ...(outer ?? { mode: 'auto' }), readOnly: true }, fn);
  }

  /** Runs `fn` with hints that routers see in `ctx.hints`. */
  withHints<R>(hints: Hints, fn: () => R): R {
    const outer = currentScope();
    const frame: ScopeFrame = { ...(outer ?? { mode: 'auto' }), hints: { ...outer?.hints, ...hints } };
    return runInScope(frame, fn);
  }

  /**
   * Enters a scope without a callback (a request hook that routes the rest of the request); `revert(handle)` leaves
   * it. It lasts for the current synchronous run and the async work started from it.
   *
   * @example
   *   const h = cluster.enter('primary'); try { … } finally { cluster.revert(h); }
   */
  enter(target: ScopeTarget): ScopeHandle {
    if (target === 'primary' || target === 'replica') return enterScope(this.#frame(target));
    if (typeof target !== 'object' || target === null || typeof target.alias !== 'string') {
      throw new DbRouterError('SCOPE_INVALID', "enter() takes 'primary', 'replica' or { alias: 'name' }.");
    }
    this.#index(target.alias, 'enter()');
    return enterScope(this.#frame('alias', target.alias));
  }

  /**
   * Leaves the scope `enter()` returned `handle` for: the current async context routes as it did
   * before. Anything but such a handle throws `SCOPE_INVALID`.
   */
  revert(handle: ScopeHandle): void {
    if (typeof handle !== 'object' || handle === null || !('frame' in handle)) {
      throw new DbRouterError('SCOPE_INVALID', 'revert() takes the handle that enter() returned.');
    }
    revertScope(handle);
  }

  #frame(mode: ScopeFrame['mode'], alias?: string): ScopeFrame {
    const hints = currentScope()?.hints;
    return { mode, ...(alias !== undefined ? { alias, owner: this } : {}), ...(hints !== undefined ? { hints } : {}) };
  }

  /**
   * Pins every statement, reads and writes, of every pool of this cluster to one node until
   * `unpin()`: for tests that run inside a transaction rolled back at the end (Django's
   * `state_change_disabled`).
   */
  pinAll(alias: string): void {
    this.#index(alias, 'pinAll()');
    this.#pinAlias = alias;
    this.#pin = this.#topology?.node(alias);
  }

  /** Ends `pinAll()`: statements are routed again. Idempotent. */
  unpin(): void {
    this.#pinAlias = undefined;
    this.#pin = undefined;
  }

  // ---- seams for the health monitor and the consistency layer --------------------------------

  /** Marks a node `up`, `down` or `lagging`; only `up` nodes serve reads. Emits `'nodeState'`. */
  setNodeState(alias: string, state: NodeState): void {
    const i = this.#index(alias, 'setNodeState()');
    if (this.#counters.get(i) === state) return;
    this.#counters.set(i, state);
    this.emit('nodeState', alias, state);
  }

  /** `up`, `down` or `lagging`: what the health monitor (or `setNodeState`) last said. Unknown alias: `UNKNOWN_ALIAS`. */
  nodeState(alias: string): NodeState {
    return this.#counters.get(this.#index(alias, 'nodeState()'));
  }

  /** Whether `alias` is `up`, so may serve reads. Unknown alias: `UNKNOWN_ALIAS`. */
  isAvailable(alias: string): boolean {
    return this.nodeState(alias) === 'up';
  }

  /**
   * Destroys every routed pool's connections to `alias`, idle ones and ones with a statement in
   * flight, and returns how many. What the health monitor does to a node that failed its checks: a
   * statement stuck on a silent network fails at once and follows the usual rules (a read is
   * retried elsewhere, a write is `WRITE_OUTCOME_UNKNOWN`, a transaction `TRANSACTION_LOST`).
   * `reason` goes into the error those statements see; never put a credential in it.
   */
  closeNodeConnections(alias: string, reason: string): number {
    const i = this.#index(alias, 'closeNodeConnections()');
    let n = 0;
    for (const pool of this.#pools) n += (pool as Partial<ClosesNodeConnections>)[CLOSE_NODE_CONNECTIONS]?.(i, reason) ?? 0;
    return n;
  }

  /** Changes a node's role (a promotion seen by the health monitor); routing follows at once. */
  setRole(alias: string, role: Role): void {
    const i = this.#index(alias, 'setRole()');
    if (this.#roles[i] === role) return;
    this.#roles[i] = role;
    if (this.#topology !== undefined || this.#roles.every((r) => r !== undefined)) this.#rebuild();
  }

  // Asking the primary for its position is a read of the primary: with a health monitor it waits
  // for a primary through a failover as a write does, and a connection error (the primary just
  // died) marks it suspect and asks once more, of whichever node the monitor then finds.
  async #queryPrimary(sql: string, retried = false): Promise<readonly Record<string, unknown>[]> {
    await this.#failover?.beforeWrite();
    const node = this.#requireTopology().primary;
    try {
      return await this.#engine.queryOnce(this.#nodes[node.index]!.connection, sql);
    } catch (err) {
      const hooks = this.#failover;
      if (retried || hooks === undefined || !this.#engine.isConnectionError(err)) throw err;
      hooks.connectionError(node.alias, err, false);
      return this.#queryPrimary(sql, true);
    }
  }

  /** Installs (or with `undefined` removes) the health monitor's failover hooks (see {@link FailoverHooks}). */
  setFailoverHooks(hooks: FailoverHooks | undefined): void {
    this.#failover = hooks;
  }

  /**
   * Health of every node (state, role, lag, rtt, upstream, problems) and the primary, once the
   * health monitor runs (from the cluster's first use unless `health: false`); `undefined` before.
   */
  status(): HealthStatus | undefined {
    return this.#failover?.status();
  }

  /**
   * The cluster's health monitor: on by default (it starts at the first use), `undefined` with
   * `health: false` until `watchCluster(cluster)` makes one.
   *
   * @example cluster.health?.on('node-down', ({ alias, error }) => log.warn(`${alias} is down: ${error}`));
   */
  get health(): ClusterHealth | undefined {
    return this.#health;
  }

  /** @internal What `watchCluster(cluster, options)` calls: this cluster's monitor, tuned. */
  [HEALTH](options?: ClusterHealthOptions): ClusterHealth {
    if (this.#health === undefined) {
      this.#health = new ClusterHealth(this, options);
      if (this.#ended) void this.#health.stop();
    } else if (options !== undefined) {
      this.#health.configure(options);
    }
    return this.#health;
  }

  /** Adds a read gate (see {@link ReadGate}); returns a function that removes it. */
  addReadGate(gate: ReadGate): () => void {
    this.#gates.push(gate);
    return () => {
      const i = this.#gates.indexOf(gate);
      if (i >= 0) this.#gates.splice(i, 1);
    };
  }

  /** Adds a hook run after each unit of work that wrote on a primary (see {@link WriteEvent}); returns a remover. */
  onWrite(hook: WriteHook): () => void {
    this.#writeHooks.push(hook);
    return () => {
      const i = this.#writeHooks.indexOf(hook);
      if (i >= 0) this.#writeHooks.splice(i, 1);
    };
  }

  // ---- consistency ---------------------------------------------------------------------------

  /**
   * Runs `fn` at a consistency level (`strong`, `session`, `eventual`, `{ maxStalenessMillis }`),
   * in the same unit of work: its writes still count for the reads after it.
   *
   * @example
   *   await cluster.consistency('eventual', () => pool.query('SELECT count(*) FROM events'));
   *   await cluster.consistency({ maxStalenessMillis: 500 }, () => dashboard());
   */
  consistency<R>(level: ConsistencyLevel, fn: () => R): R {
    return this.#consistency.runAt(level, fn);
  }

  /**
   * A signed, opaque token naming the current context's last write, for a job, a queue message or
   * another service (`withToken`); `undefined` when this context has not written. Asks the primary
   * for its position if the context wrote since the last time (one round trip), hence a promise.
   * Needs `consistency.secret` (`SECRET_MISSING`).
   *
   * @example
   *   await pool.query('INSERT INTO orders …');
   *   await queue.add('ship', { orderId, token: await cluster.consistencyToken() });
   */
  consistencyToken(): Promise<string | undefined> {
    return this.#consistency.token();
  }

  /**
   * Runs `fn` as a new unit of work that reads at least what the token's writer wrote (under
   * `session`). A token that is malformed, oversized, tampered with, expired or from another
   * cluster is ignored (`fn` still runs) and counted in `consistencyStats().tokens.rejected`.
   *
   * @example
   *   worker.process('ship', (job) => cluster.withToken(job.data.token, () => ship(job.data.orderId)));
   */
  withToken<R>(token: string | null | undefined, fn: () => R): R {
    if (typeof fn !== 'function') throw new DbRouterError('SCOPE_INVALID', 'withToken(token, fn) runs fn: pass a function, such as cluster.withToken(token, () => handle(job)).');
    return this.#consistency.runFrom(this.#consistency.accept(token), fn);
  }

  /**
   * Runs `fn` with synchronous writes: each write (autocommit, or a transaction's commit) returns
   * only once the synchronous replicas have applied it (PostgreSQL: a marker transaction committed
   * with `SET LOCAL synchronous_commit = remote_apply` right after it), so reads right after may
   * use those replicas at any level. `SYNC_UNAVAILABLE` before `fn` runs when the primary has no
   * synchronous replicas (`synchronous_standby_names` empty; always on MySQL/MariaDB), never a
   * silent downgrade. One statement can ask with a leading `/* dbrouter:synchronous *\/` comment.
   *
   * @example
   *   await cluster.synchronous(() => pool.query('UPDATE accounts SET …'));
   */
  async synchronous<R>(fn: () => R): Promise<Awaited<R>> {
    await this.ready();
    await this.#consistency.ensureSynchronous();
    return await this.#consistency.runSynchronous(fn);
  }

  /** Counters of the consistency layer: position captures, replica probes, fallbacks, waits, tokens. */
  consistencyStats(): ConsistencyStats {
    return this.#consistency.stats();
  }

  /** @internal The consistency layer, for the HTTP integrations. */
  get [CONSISTENCY](): ConsistencyLayer {
    return this.#consistency;
  }

  // ---- statistics ----------------------------------------------------------------------------

  /** Counters per alias and reason, kept always. */
  stats(): StatsSnapshot {
    return this.#stats.snapshot();
  }

  /** The debug log (`debug: true`): the last statements, oldest first, like Django's `connection.queries`. */
  get queries(): readonly QueryLogEntry[] {
    return this.#stats.queries();
  }

  /**
   * Connections per node over every routed pool of this cluster: open (`total`), `idle`, and
   * callers `waiting` for one. For metrics (`dbrouter/prometheus`) and dashboards.
   *
   * @example cluster.poolStats() // [{ alias: 'default', total: 3, idle: 1, waiting: 0 }, …]
   */
  poolStats(): readonly {
    /** The node's alias. */
    readonly alias: string;
    /** Open connections to it. */
    readonly total: number;
    /** Of those, connections idle in a pool. */
    readonly idle: number;
    /** Callers waiting for a connection to it. */
    readonly waiting: number;
  }[] {
    const sums = this.#nodes.map((n) => ({ alias: n.alias, total: 0, idle: 0, waiting: 0 }));
    for (const pool of this.#pools) {
      const counts = (pool as Partial<CountsConnections>)[NODE_POOL_COUNTS]?.();
      counts?.forEach((c, i) => {
        if (c === undefined) return;
        sums[i]!.total += c.total;
        sums[i]!.idle += c.idle;
        sums[i]!.waiting += c.waiting;
      });
    }
    return sums;
  }

  /** Sets every counter of `stats()` and `consistencyStats()` back to zero (the query log too). */
  resetStats(): void {
    this.#stats.reset();
    this.#consistency.resetStats();
  }

  // ---- migrations ----------------------------------------------------------------------------

  /** The aliases the routers allow to migrate (`allowMigrate`); by default the primaries. */
  async migrationTargets(hints: Hints = {}): Promise<string[]> {
    await this.ready();
    const t = this.#requireTopology();
    const ctx: MigrateContext = { hints, cluster: t };
    return t.nodes.filter((n) => {
      for (const r of this.#chain.migrators) {
        const a = r.allowMigrate!(n.alias, ctx);
        if (a !== undefined) return a;
      }
      return n.role === 'primary';
    }).map((n) => n.alias);
  }

  /**
   * Runs `fn` once per alias the routers allow to migrate, one after the other, with a pool whose
   * every statement runs on that alias. A replica target is refused (`MIGRATE_REFUSED`) before
   * anything runs.
   *
   * @example
   *   await cluster.migrate(async ({ pool }) => new Migrator({ db: new Kysely({ dialect: new PostgresDialect({ pool }) }), provider }).migrateToLatest());
   */
  async migrate<R>(fn: (target: MigrationTarget) => Promise<R>, options: { hints?: Hints } = {}): Promise<Record<string, R>> {
    const targets = await this.migrationTargets(options.hints);
    const t = this.#requireTopology();
    for (const alias of targets) {
      if (t.node(alias)?.role === 'replica') {
        throw new DbRouterError('MIGRATE_REFUSED', `A router allows migrating "${alias}", but it is a read-only replica: migrations run on primaries only. Make allowMigrate return false for it.`);
      }
    }
    const results: Record<string, R> = {};
    for (const alias of targets) {
      const pool = this.#engine.createPool(this, { pinned: alias });
      try {
        results[alias] = await fn({ alias, role: t.node(alias)!.role, pool });
      } finally {
        await pool.end();
      }
    }
    return results;
  }

  /**
   * Ends every pool made from this cluster (each within 5000 ms, then its connections are
   * destroyed) and stops the health checks (each connection closed within the check bound).
   */
  async end(): Promise<void> {
    this.#ended = true;
    // The monitor's sockets and timers are unref'd; an awaited end must still finish (bounded).
    await holdOpen(Promise.all([...[...this.#pools].map((p) => p.end()), this.#health?.stop()]));
  }

  /** @internal */
  get [INTERNALS](): ClusterInternals {
    return this.#internals;
  }

  #errorCodes(err: unknown): { errorType: string; responseCode?: string } {
    const responseCode = this.#engine.responseCode(err);
    if (responseCode !== undefined) return { errorType: responseCode, responseCode };
    const code = (err as { code?: unknown } | null)?.code;
    return { errorType: typeof code === 'string' && code !== '' ? code : err instanceof Error ? err.name : '_OTHER' };
  }

  #makeInternals(): ClusterInternals {
    const stats = this.#stats;
    const isReady = (): boolean => this.#live;
    const timing = (): boolean => stats.logging || this.listenerCount('route') > 0;
    const hasWriteHooks = (): boolean => this.#writeHooks.length > 0;
    return {
      engine: this.#engine,
      nodes: this.#nodes,
      counters: this.#counters,
      get isReady() {
        return isReady();
      },
      ready: () => this.ready(),
      classify: (sql) => {
        const c = this.#classifier.classify(sql);
        // Checked-out clients classify here, also once bound (where no routing decision is made).
        if (currentScope()?.readOnly === true && readOnlyRefuses(c)) throw readOnlyRefusal(c);
        return c;
      },
      route: (sql, c) => decide(this.#requireTopology(), this.#chain, sql, c ?? this.#classifier.classify(sql), currentScope(), this.#pin),
      node: (alias) => this.#requireTopology().node(alias) ?? this.#requireTopology().nodes[this.#index(alias, 'node()')]!,
      primary: () => this.#requireTopology().primary,
      get timing() {
        return timing();
      },
      record: (node, sql, reason, write, startedAt, misroute, failed, waitedMillis, err) => {
        stats.count(node.index, reason, write, misroute, failed);
        if (startedAt > 0) {
          const entry: QueryLogEntry = {
            sql, alias: node.alias, role: node.role, reason, durationMillis: performance.now() - startedAt, waitedMillis: waitedMillis ?? 0, misroute, failed, at: Date.now(),
            ...(failed && err !== undefined ? this.#errorCodes(err) : {}),
          };
          stats.log(entry);
          if (this.listenerCount('route') > 0) this.emit('route', entry);
        }
        if (misroute) this.emit('misroute', { sql, alias: node.alias });
      },
      get hasWriteHooks() {
        return hasWriteHooks();
      },
      afterWrite: (node, sql, c, kind, query, position) => {
        const hooks = this.#writeHooks;
        if (hooks.length === 0) return undefined;
        const event: WriteEvent = { alias: node.alias, sql, classification: c, kind, query, position };
        const pending: Promise<void>[] = [];
        for (const h of hooks) {
          const r = h(event);
          if (r !== undefined) pending.push(r);
        }
        return pending.length === 0 ? undefined : Promise.all(pending).then(() => undefined);
      },
      backgroundError: (err) => {
        if (this.listenerCount('error') > 0) this.emit('error', err);
      },
      beforeRead: (sql, d, nodes) => this.#consistency.beforeRead(sql, d, nodes),
      beforeWrite: () => this.#failover?.beforeWrite(),
      connectionError: (node, err, write) => this.#failover?.connectionError(node.alias, err, write) ?? false,
      onConnect: this.#onConnect,
      sqlComment: this.#sqlComment,
      track: (p) => this.#pools.add(p),
      untrack: (p) => this.#pools.delete(p),
    };
  }

  /** What `console.log` and `util.inspect` show: the engine, and each alias with its URL (password as `***`) and role. */
  [inspect.custom](): string {
    return `Cluster(${this.#engine.name}) ${inspect(this.describe().map((d) => `${d.alias}=${d.url} ${d.role ?? 'role?'}`))}`;
  }

  /** What `JSON.stringify(cluster)` writes: the engine and `describe()` (URLs without passwords). */
  toJSON(): {
    /** `postgres` or `mysql`. */
    engine: EngineName;
    /** Each node as `describe()` gives it. */
    databases: readonly NodeDescription[];
  } {
    return { engine: this.#engine.name, databases: this.describe() };
  }
}

/**
 * Creates a cluster from a Django-`DATABASES`-like configuration, validated at once
 * (`CONFIG_INVALID` names the key and what to write instead).
 *
 * @example
 *   const cluster = createCluster({
 *     databases: { default: 'postgres://app:pw@db1:5432/shop', replica1: { url: 'postgres://app:pw@db2:5432/shop', role: 'replica' } },
 *     routers: [primaryReplica({ strategy: 'round-robin' })],
 *   });
 */
export function createCluster(config: ClusterConfig): Cluster {
  return new Cluster(config);
}
