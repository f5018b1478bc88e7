import type { Engine } from '../engines/engine.js';
import type { Classification } from '../sql/types.js';
import type { RouteDecision } from '../routing/decide.js';
import type { NodeInfo } from '../routing/router.js';
import type { NodeCounters } from '../routing/topology.js';
import type { ResolvedNode } from './config.js';

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
  track(pool: { end(): Promise<void> }): void;
  untrack(pool: { end(): Promise<void> }): void;
}

/** The key under which a cluster hands its internals to the routed pools. */
export const INTERNALS: unique symbol = Symbol('dbrouter.cluster.internals');

/** Has the cluster internals: a `Cluster`. */
export interface HasInternals {
  readonly [INTERNALS]: ClusterInternals;
}
