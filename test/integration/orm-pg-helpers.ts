// Shared set-up of the PostgreSQL ORM tests: the shared cluster, a routed cluster over it, where a
// statement ran (by the server's own port), replay paused on every replica, and a bounded wait for
// the routed pool's connections to be idle again.
import assert from 'node:assert/strict';
import { createCluster, type Cluster, type ClusterConfig } from '../../src/index.js';
import type { LocalCluster } from '../../src/local/index.js';
import { sharedCluster } from '../harness/clusters.js';

export interface PgOrmSetup {
  local: LocalCluster;
  cluster: Cluster;
  /** The alias of the node that listens on `port` (what `inet_server_port()` returned). */
  aliasOf(port: unknown): string | undefined;
  /** The primary's URL, for tools that connect by URL (migrations). */
  primaryUrl: string;
}

export async function pgOrmSetup(extra: Partial<ClusterConfig> = {}, poolMax?: number): Promise<PgOrmSetup> {
  const local = await sharedCluster('postgres');
  const portOf = new Map(Object.entries(local.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));
  const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role, ...(poolMax !== undefined ? { pool: { max: poolMax } } : {}) }]));
  const cluster = createCluster({ databases, debug: true, ...extra });
  const primaryUrl = Object.values(local.databases).find((d) => d.role === 'primary')!.url;
  return { local, cluster, aliasOf: (port) => portOf.get(Number(port)), primaryUrl };
}

/** Runs `fn` with replay paused on every replica, then resumes them and waits for them to catch up. */
export async function replicasPaused<T>(local: LocalCluster, fn: () => Promise<T>): Promise<T> {
  const replicas = Object.entries(local.databases).filter(([, d]) => d.role === 'replica').map(([a]) => a);
  for (const r of replicas) await local.pause(r);
  try {
    return await fn();
  } finally {
    for (const r of replicas) await local.resume(r);
    await local.waitForAllReplicas();
  }
}

/** Polls until no connection of `pool` is checked out (every one idle), within `millis`. */
export async function idleWithin(pool: { totalCount: number; idleCount: number }, millis = 3000): Promise<void> {
  const until = Date.now() + millis;
  while (pool.totalCount !== pool.idleCount) {
    if (Date.now() > until) assert.fail(`connections still checked out: total ${pool.totalCount}, idle ${pool.idleCount}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves `p`, or fails the test after `millis` (for `destroy()` / `close()` that must return). */
export async function within<T>(p: Promise<T>, millis: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not return within ${millis} ms`)), millis);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
