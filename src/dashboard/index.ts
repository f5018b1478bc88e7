/**
 * `dbrouter/dashboard`: a live page of a cluster's topology, lag, routed statements and health
 * events, as a Node `http` handler you mount behind your own access check.
 *
 * @example
 *   import { dashboard } from 'dbrouter/dashboard';
 *   app.use('/dbrouter', dashboard(cluster, { health, authorize: (req) => isAdmin(req) }));
 *
 * @module
 */
export { dashboard, type DashboardHandler, type DashboardOptions } from './dashboard.js';
export type { DashboardNode, DashboardState, DashboardStatement } from './collector.js';
