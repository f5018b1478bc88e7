import type { HealthStatus } from '../health/monitor.js';

// What a routed pool needs from its cluster, and the engine contract, are the routing core's seams
// (src/routing/contracts.ts); they are re-exported here for the code that knew them by this path.
export {
  CONSISTENCY, INTERNALS, NODE_POOL_COUNTS,
  type ClusterInternals, type CountsConnections, type HasInternals, type NodePoolCounts, type WriteEvent, type WriteHook,
} from '../routing/contracts.js';

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
