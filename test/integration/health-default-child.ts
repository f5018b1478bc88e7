// Spawned by health-default-scenarios.ts: a script that creates a cluster, runs one query, ends its
// pool and never calls cluster.end(). It must exit by itself: background checks hold no handle.
import { createCluster } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';

const [scheme, primary, replica] = process.argv.slice(2) as [string, string, string];
const cluster = createCluster({ databases: { default: primary, replica1: replica } });
const pool = scheme === 'postgres' ? createPgPool(cluster) : createMysqlPool(cluster);
await (pool as { query(sql: string): Promise<unknown> }).query('SELECT 1');
await cluster.health!.start();
process.stdout.write(`checked: ${cluster.status() !== undefined}\n`);
await pool.end();
