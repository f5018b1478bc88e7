import type { HealthStatus } from './monitor.js';

// The seam between a cluster and the health layer, on the health side: the cluster (above) calls
// these; the health layer never needs the cluster's class (see `WatchedCluster`).

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

/** The key of a cluster's method that returns (tuning) its health monitor: what `watchCluster` calls. */
export const HEALTH: unique symbol = Symbol('dbrouter.cluster.health');
