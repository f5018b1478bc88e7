/**
 * `dbrouter/mysql`: the routed mysql2 pool (MySQL and MariaDB).
 *
 * @example
 *   import { createCluster } from 'dbrouter';
 *   import { createMysqlPool } from 'dbrouter/mysql';
 *   const pool = createMysqlPool(createCluster({ databases: { default: 'mysql://app:pw@db1/app', replica1: 'mysql://app:pw@db2/app' } }));
 *
 * @module
 */
export { createMysqlPool, RoutedMysqlConnection, RoutedMysqlPool } from './routed-pool.js';
export type { MysqlConnectionLike, MysqlPoolConfig, MysqlPoolLike, MysqlPrepareCallback, MysqlPromiseResult, MysqlQueryInput, MysqlResult, RoutedMysqlPoolOptions } from './routed-pool.js';
export { mysqlDriver, RoutedMysqlStandaloneConnection, type MysqlDriverModule } from './driver-module.js';
export { RoutedMysqlCallbackPool, RoutedQuery, isPortableSet, type MysqlCallback, type MysqlDoneCallback, type MysqlQuery } from './routed-pool.js';
