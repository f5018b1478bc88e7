// Engine-independent helpers for the consistency tests: a routed pool, where a row was read
// (the server's own port), and pausing every replica with the undo in `finally`.
import assert from 'node:assert/strict';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { createCluster, type Cluster, type ClusterConfig } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import type { Engine, LocalCluster } from '../../src/local/index.js';

export interface Db {
  readonly engine: Engine;
  readonly cluster: Cluster;
  /** Rows of one statement through the routed pool; `?` placeholders on both engines. */
  q(sql: string, values?: readonly unknown[]): Promise<Record<string, unknown>[]>;
  /** The alias that served a row carrying `port` (select it with `PORT`). */
  aliasOf(rows: readonly Record<string, unknown>[]): string;
  readonly PORT: string;
  end(): Promise<void>;
}

export function routedDb(local: LocalCluster, extra: Partial<ClusterConfig> = {}): Db {
  const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role }]));
  const cluster = createCluster({ databases, debug: true, ...extra });
  const portOf = new Map(Object.entries(local.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));
  const aliasOf = (rows: readonly Record<string, unknown>[]): string => {
    const port = Number(rows[0]?.port);
    const alias = portOf.get(port);
    assert.ok(alias, `port ${port} is no node`);
    return alias;
  };
  if (local.engine === 'postgres') {
    const pool = createPgPool(cluster);
    return {
      engine: local.engine, cluster, aliasOf, PORT: 'inet_server_port() AS port',
      q: async (sql, values = []) => {
        let n = 0;
        return (await pool.query(sql.replace(/\?/g, () => `$${++n}`), [...values])).rows;
      },
      end: () => pool.end(),
    };
  }
  const pool = createMysqlPool(cluster);
  return {
    engine: local.engine, cluster, aliasOf, PORT: '@@port AS port',
    q: async (sql, values = []) => (await pool.query(sql, [...values]))[0] as Record<string, unknown>[],
    end: () => pool.end(),
  };
}

/** Runs `fn` with replay paused on every replica; resumes and waits for them whatever happens. */
export async function withReplicasPaused<T>(local: LocalCluster, fn: () => Promise<T>): Promise<T> {
  const replicas = local.replicaAliases;
  try {
    for (const r of replicas) await local.pause(r);
    return await fn();
  } finally {
    for (const r of replicas) await local.resume(r).catch(() => {});
    await local.waitForAllReplicas();
  }
}

export const SECRET = 'a-test-secret-of-more-than-16-bytes';

/** Polls `condition` every 10 ms until it holds; fails naming `what` past `timeoutMillis`. */
export async function until(condition: () => boolean, timeoutMillis: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!condition()) {
    if (performance.now() - t0 > timeoutMillis) throw new Error(`${what}: not within ${timeoutMillis} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One plain driver connection to the primary (no dbrouter), `?` placeholders on both engines. */
export async function primaryConnection(local: LocalCluster): Promise<{ q(sql: string, values?: readonly unknown[]): Promise<unknown>; end(): Promise<void> }> {
  const url = local.databases[local.primaryAlias]!.url;
  if (local.engine === 'postgres') {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    await client.connect();
    return {
      q: (sql, values = []) => {
        let n = 0;
        return client.query(sql.replace(/\?/g, () => `$${++n}`), [...values]);
      },
      end: () => client.end(),
    };
  }
  const conn = await mysql.createConnection({ uri: url });
  conn.on('error', () => undefined);
  return { q: (sql, values = []) => conn.query(sql, [...values]), end: () => conn.end() };
}
