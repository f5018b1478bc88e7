// Plain connections to one node, outside dbrouter (to look at or kill what a node runs), and a
// bounded wait for a condition.
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import mysql from 'mysql2/promise';
/** The test clusters' engines. */
export type EngineName = 'postgres' | 'mariadb';

type Row = Record<string, unknown>;

/** A plain connection to one node's own port, outside dbrouter. */
export interface Direct {
  query(sql: string): Promise<Row[]>;
  end(): Promise<void>;
}

export async function direct(engine: EngineName, url: string): Promise<Direct> {
  if (engine === 'postgres') {
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => undefined);
    await c.connect();
    return { query: async (sql) => (await c.query(sql)).rows as Row[], end: () => c.end() };
  }
  const c = await mysql.createConnection({ uri: url });
  c.on('error', () => undefined);
  return { query: async (sql) => (await c.query(sql))[0] as Row[], end: () => c.end() };
}

/** Polls `condition` every 10 ms; throws naming `what` when it does not hold within `timeoutMillis`. */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMillis: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!(await condition())) {
    if (performance.now() - t0 > timeoutMillis) throw new Error(`${what}: not within ${timeoutMillis} ms`);
    await delay(10);
  }
}
