/**
 * `dbrouter/cluster`: real replicated PostgreSQL and MariaDB clusters on this machine, for
 * development and tests (no Docker). Tuned for speed, never for production.
 *
 * @example
 *   import { startCluster, openCluster } from 'dbrouter/cluster';
 *   const cluster = await startCluster({ engine: 'postgres', replicas: 2 });
 *   cluster.databases.default.url;   // postgres://postgres@127.0.0.1:PORT/postgres (the primary)
 *   cluster.databases.replica1.url;  // a hot standby
 *   await cluster.down();
 *
 * @module
 */
export { startCluster, openCluster, defaultClusterDir, destroyClusterSync } from './local-cluster.js';
export { findPostgres, findMariadb } from './binaries.js';
export type { PostgresBinaries, MariadbBinaries } from './binaries.js';
export { APP_USER as MARIADB_APP_USER, MONITOR_USER as MARIADB_MONITOR_USER } from './mariadb-engine.js';
export type {
  ClusterDatabase,
  Engine,
  LocalCluster,
  NodeRole,
  NodeStatus,
  PostgresSource,
  StartClusterOptions,
} from './types.js';
