/**
 * dbrouter as an application on the app host would configure it for the three database hosts:
 * every alias a host, no role given (each server is asked), a health monitor, bounded connects.
 */
import { createCluster, watchCluster, type Cluster, type ClusterHealth, type ClusterHealthOptions } from '../../src/index.js';
import { createPgPool, type RoutedPgPool } from '../../src/engines/postgres/index.js';
import { HOSTS, url, type Host } from './topology.js';

export const SECRET = 'ha-test-secret-0123456789abcdef';

export interface Routed {
  cluster: Cluster;
  health: ClusterHealth;
  pool: RoutedPgPool;
  /** Monitor-visible events with the time they arrived (performance.now()). */
  events: { at: number; name: string; detail: unknown }[];
  end(): Promise<void>;
}

/** Health settings of these tests: checks every 200 ms, each bounded by 500 ms, lag bound 1 s. */
export const CHECKS = { checkIntervalMillis: 200, checkTimeoutMillis: 500, failuresBeforeDown: 2, maxReplicationLagMillis: 1000 } as const;

export async function routed(options: { port?: number; health?: ClusterHealthOptions; hosts?: readonly Host[] } = {}): Promise<Routed> {
  const databases = Object.fromEntries(
    (options.hosts ?? HOSTS).map((h) => [
      h,
      {
        url: url(h, options.port ?? 5432),
        // A host that is partitioned away answers nothing, not even a refusal: bound the connect.
        pool: { max: 10, connectionTimeoutMillis: 2000 },
        driverOptions: { keepAlive: true },
      },
    ]),
  );
  const cluster = createCluster({ databases, consistency: { secret: SECRET } });
  cluster.on('error', () => undefined);
  const health = watchCluster(cluster, { ...CHECKS, ...options.health });
  const events: Routed['events'] = [];
  for (const name of ['node-down', 'node-up', 'lagging', 'caught-up', 'primary-changed', 'primary-lost', 'split-brain', 'problem'] as const) {
    health.on(name, (detail: unknown) => events.push({ at: performance.now(), name, detail }));
  }
  health.on('error', () => undefined);
  await health.start();
  const pool = createPgPool(cluster);
  pool.on('error', () => undefined);
  return {
    cluster,
    health,
    pool,
    events,
    async end() {
      await pool.end();
      await health.stop();
      await cluster.end();
    },
  };
}
