import type { RouteContext, Router } from './router.js';

/**
 * Reads to any healthy node, the primary included; writes to the primary.
 *
 * @example
 *   createCluster({ databases, routers: [randomIncludingPrimary()] })
 */
export function randomIncludingPrimary(): Router {
  return {
    name: 'randomIncludingPrimary',
    dbForRead: (ctx: RouteContext) => ctx.cluster.pickAny(ctx)?.alias,
    dbForWrite: (ctx: RouteContext) => ctx.cluster.primary.alias,
  };
}
