import type { RouteContext, Router } from './router.js';

/**
 * Writes spread over every healthy alias whose role is primary, reads over all nodes. For
 * multi-primary setups such as Galera or BDR.
 *
 * @example
 *   createCluster({ databases: { default: urlA, second: { url: urlB, role: 'primary' } }, routers: [multiPrimary()] })
 */
export function multiPrimary(): Router {
  return {
    name: 'multiPrimary',
    dbForRead: (ctx: RouteContext) => ctx.cluster.pickAny(ctx)?.alias,
    dbForWrite: (ctx: RouteContext) => ctx.cluster.pickPrimary()?.alias,
  };
}
