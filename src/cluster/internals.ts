import type { Engine } from '../engines/engine.js';
import type { Classification } from '../sql/types.js';
import type { RouteDecision } from '../routing/decide.js';
import type { NodeInfo } from '../routing/router.js';
import type { NodeCounters } from '../routing/topology.js';
import type { ResolvedNode } from './config.js';
import type { HealthStatus } from '../health/monitor.js';

/**
 * What the consistency layer hears after a unit of work wrote on a primary: an autocommit write, or
 * the end of a transaction that wrote. `query` runs one statement on that primary (for example to
 * read `pg_current_wal_lsn()` or `@@gtid_binlog_pos`). A returned promise is awaited before the
 * caller gets its result, so a token captured here is ready when the caller goes on.
 */
export interface WriteEvent {
  readonly alias: string;
  readonly sql: string;
  readonly classification: Classification;
  /** `statement`: an autocommit write; `commit`: the end of a transaction that wrote. */
  readonly kind: 'statement' | 'commit';
  query(sql: string): Promise<readonly Record<string, unknown>[]>;
}

export type WriteHook = (event: WriteEvent) => void | Promise<void>;

/**
 * What the health monitor plugs into a cluster (`cluster.setFailoverHooks`): the routing core asks
 * it before each write and tells it about connection errors; nothing else changes on the hot path.
 */
export interface FailoverHooks {
  /** `undefined` when a primary takes writes now; else a promise that settles once one does (the roles are updated by then) or rejects to fail the write. */
  beforeWrite(): Promise<void> | undefined;
  /** A statement on `alias` failed with a connection error. Return true to run it once more, re-routed (after `beforeWrite` for a write). */
  connectionError(alias: string, err: unknown, write: boolean): boolean;
  /** The monitor's snapshot, for `cluster.status()`. */
  status(): HealthStatus;
}

/** What a routed pool needs from its cluster. Not part of the public API. */
export interface ClusterInternals {
  readonly engine: Engine;
  readonly nodes: readonly ResolvedNode[];
  readonly counters: NodeCounters;
  readonly isReady: boolean;
  ready(): Promise<void>;
  classify(sql: string): Classification;
  route(sql: string, c?: Classification): RouteDecision;
  node(alias: string): NodeInfo;
  primary(): NodeInfo;
  /** Whether `record` wants a start time (debug log or `'route'` listeners). */
  readonly timing: boolean;
  record(node: NodeInfo, sql: string, reason: string, write: boolean, startedAt: number, misroute: boolean, failed: boolean): void;
  readonly hasWriteHooks: boolean;
  /** Runs the write hooks; `undefined` when none returned a promise (no await on the hot path). */
  afterWrite(node: NodeInfo, sql: string, c: Classification, kind: 'statement' | 'commit', query: WriteEvent['query']): Promise<void> | undefined;
  /** Background errors from pools: emitted as the cluster's `'error'` when someone listens. */
  backgroundError(err: unknown): void;
  /**
   * Consistency seam: a read the read gates sent to the primary may go to a replica that has
   * caught up, or wait for one. `undefined` keeps `d` (the hot path: no await).
   */
  beforeRead(sql: string, d: RouteDecision, nodes: { rows(index: number, sql: string): Promise<readonly Record<string, unknown>[]> }): RouteDecision | Promise<RouteDecision> | undefined;
  /** Health seam (see {@link FailoverHooks}): a promise to await before a write, or `undefined` to go on at once. */
  beforeWrite(): Promise<void> | undefined;
  /** Health seam: a statement on `node` failed with a connection error; true to retry it once elsewhere. */
  connectionError(node: NodeInfo, err: unknown, write: boolean): boolean;
  /** Statements every new physical connection of every node runs first (`onConnect` in the cluster config). */
  readonly onConnect?: readonly string[];
  track(pool: { end(): Promise<void> }): void;
  untrack(pool: { end(): Promise<void> }): void;
}

/** The key under which a cluster hands its consistency layer to the HTTP integrations. */
export const CONSISTENCY: unique symbol = Symbol('dbrouter.cluster.consistency');

/** The key of a cluster's method that returns (tuning) its health monitor: what `watchCluster` calls. */
export const HEALTH: unique symbol = Symbol('dbrouter.cluster.health');

/** The key under which a cluster hands its internals to the routed pools. */
export const INTERNALS: unique symbol = Symbol('dbrouter.cluster.internals');

/** Has the cluster internals: a `Cluster`. */
export interface HasInternals {
  readonly [INTERNALS]: ClusterInternals;
}

/** Connections of one node's pool: what `cluster.poolStats()` adds up over every routed pool. */
export interface NodePoolCounts {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

/** The key of a routed pool's method that counts its connections per node index (`undefined`: no pool opened to that node yet). */
export const NODE_POOL_COUNTS: unique symbol = Symbol('dbrouter.pool.counts');

/** A routed pool that can count its connections per node. */
export interface CountsConnections {
  [NODE_POOL_COUNTS](): readonly (NodePoolCounts | undefined)[];
}
