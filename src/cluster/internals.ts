// What a routed pool needs from its cluster, and the engine contract, are the routing core's seams
// (src/routing/contracts.ts); what the health layer plugs into a cluster is in
// src/health/failover-hooks.ts. Re-exported here for the code that knew them by this path.
export {
  CONSISTENCY, INTERNALS, NODE_POOL_COUNTS,
  type ClusterInternals, type CountsConnections, type HasInternals, type NodePoolCounts, type WriteEvent, type WriteHook,
} from '../routing/contracts.js';
export { HEALTH, type FailoverHooks } from '../health/failover-hooks.js';
