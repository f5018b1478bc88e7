import { checkChoice, checkOptions } from '../options.js';
import type { ReplicaStrategy, RouteContext, Router } from './router.js';

/** Options of {@link primaryReplica}. Unknown keys and strategies throw `CONFIG_INVALID`. */
export interface PrimaryReplicaOptions {
  /** How a replica is chosen: `random` (default), `round-robin`, `weighted` (by each alias's `weight`), `least-busy` (fewest statements in flight). */
  readonly strategy?: ReplicaStrategy;
}

const STRATEGIES: readonly ReplicaStrategy[] = ['random', 'round-robin', 'weighted', 'least-busy'];

/**
 * The default router: reads to a healthy replica, writes to the primary.
 *
 * @example
 *   createCluster({ databases, routers: [primaryReplica({ strategy: 'least-busy' })] })
 */
export function primaryReplica(options: PrimaryReplicaOptions = {}): Router {
  const o = checkOptions('primaryReplica() options', options, ['strategy'], "{ strategy: 'least-busy' }");
  const strategy = checkChoice('primaryReplica() strategy', o.strategy, STRATEGIES) ?? 'random';
  const counter = { n: 0 };
  return {
    name: 'primaryReplica',
    dbForRead: (ctx: RouteContext) => ctx.cluster.pickReplica(ctx, strategy, counter)?.alias,
    dbForWrite: (ctx: RouteContext) => ctx.cluster.primary.alias,
  };
}
