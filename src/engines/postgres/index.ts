/**
 * `dbrouter/pg`: the routed node-postgres pool, its clients, and a `pg` driver module.
 *
 * @example
 *   import { createCluster } from 'dbrouter';
 *   import { createPgPool } from 'dbrouter/pg';
 *   const pool = createPgPool(createCluster({ databases: { default: process.env.DATABASE_URL!, replica1: process.env.REPLICA_URL! } }));
 *
 * @module
 */
export { createPgPool, RoutedPgClient, RoutedPgPool } from './routed-pool.js';
export type { PgCallback, PgClientHost, PgClientLike, PgPoolLike, PgQueryInput, PgTypesLike, RoutedPgPoolOptions } from './routed-pool.js';
export { pgDriver, type PgDriverModule } from './driver-module.js';
