// Strict read-only scopes on real clusters, both engines: a write inside cluster.readOnly() is
// refused with READ_ONLY before it reaches any server (no routed statement, no row on the primary),
// while reads in the same scope run on replicas (by the server's own port).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Kysely, MysqlDialect, PostgresDialect, sql } from 'kysely';
import mysql from 'mysql2/promise';
import pg from 'pg';
import QueryStream from 'pg-query-stream';
import { createCluster, isDbRouterError, type Cluster, type RouteEvent } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import { createMariadbPool } from '../../src/engines/mysql/mariadb-connector.js';
import { readOnlyKysely } from '../../src/orm/kysely.js';
import type { LocalCluster } from '../../src/local/index.js';
import { recordStatements } from '../../src/testing/index.js';
import { engineSkip, ownCluster, sharedCluster } from '../harness/clusters.js';
import { primaryConnection, routedDb, type Db } from './consistency-helpers.js';

for (const engine of ['postgres', 'mariadb'] as const) {
  describe(`read-only scope on ${engine}`, { skip: await engineSkip(engine) }, () => {
    let local: LocalCluster;
    let db: Db;
    before(async () => {
      local = await sharedCluster(engine);
      db = routedDb(local, { consistency: 'eventual' });
      await db.q('DROP TABLE IF EXISTS ro_items');
      await db.q('CREATE TABLE ro_items (id int PRIMARY KEY)');
      await local.waitForAllReplicas();
    });
    after(() => db.end());

    test('a write is refused before any server; reads go on on replicas', async () => {
      const routed: RouteEvent[] = [];
      const onRoute = (e: RouteEvent) => routed.push(e);
      db.cluster.on('route', onRoute);
      try {
        await db.cluster.readOnly(async () => {
          await assert.rejects(db.q('INSERT INTO ro_items (id) VALUES (?)', [1]), (e: unknown) => isDbRouterError(e, 'READ_ONLY'));
          await assert.rejects(db.cluster.primary(() => db.q('DELETE FROM ro_items')), (e: unknown) => isDbRouterError(e, 'READ_ONLY'));
          const rows = await db.q(`SELECT count(*) AS n, ${db.PORT} FROM ro_items`);
          assert.match(db.aliasOf(rows), /^replica/);
        });
      } finally {
        db.cluster.off('route', onRoute);
      }
      assert.deepEqual(routed.map((e) => e.reason), ['select'], 'only the read was routed to a server');
      const direct = await primaryConnection(local);
      try {
        const r = await direct.q('SELECT count(*) AS n FROM ro_items');
        // pg answers { rows }, mysql2 [rows, fields].
        const rows = (Array.isArray(r) ? r[0] : (r as { rows: unknown[] }).rows) as { n: number | string }[];
        assert.equal(Number(rows[0]!.n), 0, 'the primary has no row');
      } finally {
        await direct.end();
      }
    });
  });
}

// Read-only pools (createPgPool / createMysqlPool / createMariadbPool with `readOnly: true`) on
// real clusters: a write is refused with READ_ONLY and provably reached no server — no routed
// statement, the read-only pool never opened a connection to the primary, the primary's rows are
// unchanged (and, on a cluster of this file's own, the statement is in no server's log). Reads run
// on replicas (by the server's own port); a transaction on it; streams; Kysely typed read-only.
const roWrites = (engine: 'postgres' | 'mariadb', marker: string): string[] => [
  `INSERT INTO ro_pool_items (id, v) VALUES (2, 20) /* ${marker} */`,
  `UPDATE ro_pool_items SET v = 11 /* ${marker} */`,
  `DELETE FROM ro_pool_items /* ${marker} */`,
  `TRUNCATE ro_pool_items /* ${marker} */`,
  `CREATE TABLE ro_pool_other (id int) /* ${marker} */`,
  `DROP TABLE ro_pool_items /* ${marker} */`,
  `SELECT id FROM ro_pool_items FOR UPDATE /* ${marker} */`,
  `SELECT 1; DELETE FROM ro_pool_items /* ${marker} */`,
  `FROBNICATE ro_pool_items /* ${marker} */`,
  ...(engine === 'postgres'
    ? [
      `WITH d AS (DELETE FROM ro_pool_items RETURNING id) SELECT id FROM d /* ${marker} */`,
      `SELECT nextval('ro_pool_seq') /* ${marker} */`,
      `SELECT pg_advisory_lock(4242) /* ${marker} */`,
      `LOCK TABLE ro_pool_items /* ${marker} */`,
      `CREATE TEMP TABLE ro_pool_tmp (id int) /* ${marker} */`,
    ]
    : [
      `REPLACE INTO ro_pool_items (id, v) VALUES (1, 12) /* ${marker} */`,
      `SELECT GET_LOCK('ro_pool', 0) /* ${marker} */`,
      `LOCK TABLES ro_pool_items READ /* ${marker} */`,
      `SELECT id FROM ro_pool_items LOCK IN SHARE MODE /* ${marker} */`,
    ]),
];

const refusedReadOnly = (e: unknown) => isDbRouterError(e, 'READ_ONLY') && /before it reached any server/.test(e.message);

/** The read-only pool under test, one engine's driver behind one shape. */
interface RoPool {
  readonly cluster: Cluster;
  q(sql: string): Promise<Record<string, unknown>[]>;
  /** A checked-out client / connection. */
  client(): Promise<{ q(sql: string): Promise<Record<string, unknown>[]>; release(): void }>;
  /** Rows of one streamed statement (pg-query-stream; mysql2's query().stream()). */
  stream(sql: string): Promise<Record<string, unknown>[]>;
  end(): Promise<void>;
}

function roPool(local: LocalCluster): RoPool {
  const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role }]));
  // Routing alone (read-your-writes, tested on its own, may read on the primary); no monitor connections.
  const cluster = createCluster({ databases, consistency: 'eventual', health: false, debug: true });
  const drain = async (s: AsyncIterable<unknown>) => {
    const rows: Record<string, unknown>[] = [];
    for await (const row of s) rows.push(row as Record<string, unknown>);
    return rows;
  };
  if (local.engine === 'postgres') {
    const pool = createPgPool(cluster, { readOnly: true });
    return {
      cluster,
      q: async (sql) => (await pool.query(sql)).rows,
      client: async () => {
        const c = await pool.connect();
        return { q: async (sql) => (await c.query(sql)).rows, release: () => c.release() };
      },
      stream: (sql) => drain(pool.query(new QueryStream(sql, [], { batchSize: 2 })) as AsyncIterable<unknown>),
      end: () => cluster.end(),
    };
  }
  const pool = createMysqlPool(cluster, { readOnly: true });
  return {
    cluster,
    q: async (sql) => (await pool.query(sql))[0] as Record<string, unknown>[],
    client: async () => {
      const c = await pool.getConnection();
      return { q: async (sql) => (await c.query(sql))[0] as Record<string, unknown>[], release: () => c.release() };
    },
    stream: (sql) => drain(pool.pool.query(sql).stream() as AsyncIterable<unknown>),
    end: () => cluster.end(),
  };
}

/** One plain driver connection per node (no dbrouter), to look at what each server saw. */
async function eachNode<T>(local: LocalCluster, fn: (alias: string, q: (sql: string) => Promise<Record<string, unknown>[]>) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (const [alias, d] of Object.entries(local.databases)) {
    if (local.engine === 'postgres') {
      const c = new pg.Client({ connectionString: d.url });
      c.on('error', () => undefined);
      await c.connect();
      try {
        out.push(await fn(alias, async (sql) => (await c.query(sql)).rows as Record<string, unknown>[]));
      } finally {
        await c.end();
      }
    } else {
      const c = await mysql.createConnection({ uri: d.url });
      c.on('error', () => undefined);
      try {
        out.push(await fn(alias, async (sql) => (await c.query(sql))[0] as Record<string, unknown>[]));
      } finally {
        await c.end();
      }
    }
  }
  return out;
}

for (const engine of ['postgres', 'mariadb'] as const) {
  describe(`read-only pool on ${engine}`, { skip: await engineSkip(engine) }, () => {
    let local: LocalCluster;
    let db: Db;
    let ro: RoPool;
    let portOf: Map<number, string>;
    const PORT = engine === 'postgres' ? 'inet_server_port()' : '@@port';
    const where = (rows: readonly Record<string, unknown>[]) => portOf.get(Number(rows[0]!.port));
    const primaryRows = async () => (await eachNode(local, async (alias, q) => (alias === local.primaryAlias ? q('SELECT id, v FROM ro_pool_items ORDER BY id') : undefined))).find((r) => r !== undefined)!;

    before(async () => {
      local = await sharedCluster(engine);
      portOf = new Map(Object.entries(local.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));
      db = routedDb(local, { consistency: 'eventual' });
      for (const t of ['ro_pool_other', 'ro_pool_items']) await db.q(`DROP TABLE IF EXISTS ${t}`);
      await db.q('CREATE TABLE ro_pool_items (id int PRIMARY KEY, v int)');
      await db.q('INSERT INTO ro_pool_items (id, v) VALUES (1, 10)');
      if (engine === 'postgres') await db.q('CREATE SEQUENCE IF NOT EXISTS ro_pool_seq');
      await local.waitForAllReplicas();
      ro = roPool(local);
    });
    after(async () => {
      await ro?.end();
      await db?.end();
    });

    test('writes, locks and unvouched texts are refused with READ_ONLY; reads run on replicas; the pool never connects to the primary', async () => {
      const { statements } = await recordStatements(ro.cluster, async () => {
        for (const sql of roWrites(engine, 'ro-shared')) await assert.rejects(ro.q(sql), refusedReadOnly, sql);
        const rows = await ro.q(`SELECT count(*) AS n, ${PORT} AS port FROM ro_pool_items`);
        assert.equal(Number(rows[0]!.n), 1);
        assert.match(where(rows)!, /^replica/, 'a read on a replica');
      });
      assert.deepEqual(statements.map((s) => [s.reason, s.role]), [['select', 'replica']], 'only the read was routed to a server');
      assert.equal(ro.cluster.stats().misroutes, 0, 'no write reached a replica (the safety net would have re-run it on the primary)');
      const primaryConnections = ro.cluster.poolStats().find((p) => p.alias === local.primaryAlias)!.total;
      assert.equal(primaryConnections, 0, 'the read-only pool never opened a connection to the primary');
      assert.deepEqual((await primaryRows()).map((r) => [Number(r.id), Number(r.v)]), [[1, 10]], 'the primary has its one row, unchanged');
    });

    test('a transaction, READ ONLY or plain, on a replica; a write inside is refused and the transaction goes on', async () => {
      const c = await ro.client();
      try {
        await c.q(engine === 'postgres' ? 'BEGIN READ ONLY' : 'START TRANSACTION READ ONLY');
        const a = await c.q(`SELECT count(*) AS n, ${PORT} AS port FROM ro_pool_items`);
        assert.match(where(a)!, /^replica/, 'BEGIN READ ONLY runs on a replica');
        await assert.rejects(c.q('INSERT INTO ro_pool_items (id, v) VALUES (3, 30)'), refusedReadOnly);
        // Nothing reached the server: the transaction is not aborted, the next read runs in it.
        const b = await c.q(`SELECT count(*) AS n, ${PORT} AS port FROM ro_pool_items`);
        assert.equal(where(b), where(a), 'the same replica, the same transaction');
        await c.q('COMMIT');

        await c.q(engine === 'postgres' ? 'BEGIN' : 'START TRANSACTION');
        await c.q(engine === 'postgres' ? "SET LOCAL statement_timeout = '5s'" : 'SET @ro_pool_var = 1');
        const p = await c.q(`SELECT count(*) AS n, ${PORT} AS port FROM ro_pool_items`);
        assert.match(where(p)!, /^replica/, 'a plain BEGIN on a read-only pool can only read: it runs on a replica');
        await c.q('SAVEPOINT s1');
        await assert.rejects(c.q('UPDATE ro_pool_items SET v = 99'), refusedReadOnly);
        await c.q('ROLLBACK TO SAVEPOINT s1');
        await assert.rejects(c.q('SELECT id FROM ro_pool_items FOR UPDATE'), refusedReadOnly);
        const again = await c.q('SELECT v FROM ro_pool_items');
        assert.equal(Number(again[0]!.v), 10);
        await c.q('COMMIT');
      } finally {
        c.release();
      }
      assert.deepEqual((await primaryRows()).map((r) => [Number(r.id), Number(r.v)]), [[1, 10]]);
    });

    if (engine === 'postgres') {
      test('a transaction that asks for SERIALIZABLE (refused by a standby) runs on the primary, also when it asks after a plain BEGIN', async () => {
        const c = await ro.client();
        try {
          const { statements } = await recordStatements(ro.cluster, async () => {
            await c.q('BEGIN');
            await c.q('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE');
            const a = await c.q(`SELECT current_setting('transaction_isolation') AS iso, pg_is_in_recovery() AS standby, ${PORT} AS port FROM ro_pool_items`);
            assert.equal(where(a), local.primaryAlias, 'moved to the primary before its first statement');
            assert.deepEqual([a[0]!.iso, a[0]!.standby], ['serializable', false]);
            await assert.rejects(c.q('DELETE FROM ro_pool_items'), refusedReadOnly, 'still read-only there');
            await c.q('COMMIT');
          });
          assert.deepEqual(
            statements.map((s) => [s.reason, s.role]),
            [['transaction', 'replica'], ['transaction', 'primary'], ['transaction', 'primary'], ['transaction', 'primary'], ['transaction', 'primary']],
            'BEGIN on a replica, then BEGIN, SET, SELECT and COMMIT on the primary',
          );
          await c.q('BEGIN ISOLATION LEVEL SERIALIZABLE');
          const b = await c.q(`SELECT current_setting('transaction_isolation') AS iso, ${PORT} AS port FROM ro_pool_items`);
          assert.equal(where(b), local.primaryAlias);
          assert.equal(b[0]!.iso, 'serializable');
          await c.q('COMMIT');
        } finally {
          c.release();
        }
        // Repeatable read is fine on a standby: it stays on a replica (a fresh client: one that ran a
        // transaction on the primary keeps the primary until it is released, as on any pool).
        const d = await ro.client();
        try {
          await d.q('BEGIN');
          await d.q('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
          const r = await d.q(`SELECT current_setting('transaction_isolation') AS iso, ${PORT} AS port FROM ro_pool_items`);
          assert.match(where(r)!, /^replica/);
          assert.equal(r[0]!.iso, 'repeatable read');
          await d.q('COMMIT');
        } finally {
          d.release();
        }
      });
    }

    test('streams: a streamed read runs on a replica, a streamed write is refused', async () => {
      const rows = await ro.stream(`SELECT id, ${PORT} AS port FROM ro_pool_items`);
      assert.equal(rows.length, 1);
      assert.match(where(rows)!, /^replica/);
      const write = engine === 'postgres' ? 'DELETE FROM ro_pool_items RETURNING id' : 'DELETE FROM ro_pool_items';
      await assert.rejects(ro.stream(write), refusedReadOnly);
      assert.deepEqual((await primaryRows()).map((r) => [Number(r.id), Number(r.v)]), [[1, 10]]);
    });

    test('Kysely over the read-only pool, typed read-only: reads on a replica; raw SQL that writes is refused at run time', async () => {
      const dialect = engine === 'postgres'
        ? new PostgresDialect({ pool: createPgPool(ro.cluster, { readOnly: true }) })
        : new MysqlDialect({ pool: createMysqlPool(ro.cluster, { readOnly: true }) });
      const kdb = readOnlyKysely(new Kysely<{ ro_pool_items: { id: number; v: number } }>({ dialect }));
      try {
        const port = sql<number>`${sql.raw(PORT)}`.as('port');
        const rows = await kdb.selectFrom('ro_pool_items').select(['id', port]).execute();
        assert.match(where(rows)!, /^replica/);
        const inTx = await kdb.transaction().setAccessMode('read only').execute((trx) => trx.selectFrom('ro_pool_items').select(['v', port]).execute());
        assert.match(where(inTx)!, /^replica/, 'a read-only Kysely transaction runs on a replica');
        await assert.rejects(sql`DELETE FROM ro_pool_items`.execute(kdb), refusedReadOnly);
      } finally {
        await kdb.destroy();
      }
      assert.deepEqual((await primaryRows()).map((r) => [Number(r.id), Number(r.v)]), [[1, 10]]);
    });

    if (engine === 'mariadb') {
      test('the mariadb connector pool (dbrouter/mariadb), read-only', async () => {
        const pool = createMariadbPool(ro.cluster, { readOnly: true });
        try {
          await assert.rejects(pool.query('INSERT INTO ro_pool_items (id, v) VALUES (4, 40)'), refusedReadOnly);
          await assert.rejects(pool.execute('UPDATE ro_pool_items SET v = ?', [5]), refusedReadOnly);
          const rows = (await pool.query(`SELECT id, ${PORT} AS port FROM ro_pool_items`)) as Record<string, unknown>[];
          assert.match(where(rows)!, /^replica/);
          const conn = await pool.getConnection();
          try {
            await conn.beginTransaction();
            await assert.rejects(conn.query('DELETE FROM ro_pool_items'), refusedReadOnly);
            await conn.commit();
          } finally {
            await conn.release();
          }
        } finally {
          await pool.end();
        }
        assert.deepEqual((await primaryRows()).map((r) => [Number(r.id), Number(r.v)]), [[1, 10]]);
      });
    }
  });
}

// The proof that a refused statement reached no server, from the servers themselves: a cluster of
// this file's own whose every node logs every statement it receives (PostgreSQL log_statement=all;
// MariaDB's general log). The marker of each refused statement is in no node's log; the marker of
// a read that ran is in exactly one replica's.
for (const engine of ['postgres', 'mariadb'] as const) {
  describe(`read-only pool on ${engine}: no refused statement reaches a server (every server logs every statement)`, { skip: await engineSkip(engine) }, () => {
    let local: LocalCluster;
    let dataRoot: string;
    let ro: RoPool;
    const serverLog = async (alias: string) =>
      engine === 'postgres' ? local.log(alias) : readFile(path.join(dataRoot, alias, 'general.log'), 'utf8');

    before(async () => {
      dataRoot = mkdtempSync(path.join(tmpdir(), 'dbr-ro-'));
      const settings: Record<string, string> = engine === 'postgres' ? { log_statement: 'all' } : { general_log: '1', general_log_file: 'general.log' };
      local = await ownCluster(engine, { replicas: 1, dataRoot, settings });
      const db = routedDb(local, { consistency: 'eventual' });
      try {
        await db.q('CREATE TABLE ro_pool_items (id int PRIMARY KEY, v int)');
        await db.q('INSERT INTO ro_pool_items (id, v) VALUES (1, 10)');
        if (engine === 'postgres') await db.q('CREATE SEQUENCE ro_pool_seq');
      } finally {
        await db.end();
      }
      await local.waitForAllReplicas();
      ro = roPool(local);
    });
    after(async () => {
      await ro?.end();
      await local?.down();
      rmSync(dataRoot, { recursive: true, force: true });
    });

    test('the marker of every refused statement is in no server\'s log; a read that ran is in one replica\'s', async () => {
      const marker = `romk${Date.now()}x${Math.floor(Math.random() * 1e6)}`;
      const writes = roWrites(engine, marker);
      const c = await ro.client();
      try {
        for (const sql of writes) await assert.rejects(ro.q(sql), refusedReadOnly, sql);
        await c.q(engine === 'postgres' ? 'BEGIN READ ONLY' : 'START TRANSACTION READ ONLY');
        for (const sql of writes) await assert.rejects(c.q(sql), refusedReadOnly, `in a transaction: ${sql}`);
        await c.q('COMMIT');
        await assert.rejects(ro.stream(`DELETE FROM ro_pool_items /* ${marker} */`), refusedReadOnly);
      } finally {
        c.release();
      }
      const probe = `${marker}probe`;
      await ro.q(`SELECT count(*) AS n FROM ro_pool_items /* ${probe} */`);
      const logs = await Promise.all(Object.keys(local.databases).map(async (alias) => [alias, await serverLog(alias)] as const));
      const ran = logs.filter(([, text]) => text.includes(probe)).map(([alias]) => alias);
      assert.equal(ran.length, 1, 'the read that ran is in one server\'s log: the logs hold what each server received');
      assert.match(ran[0]!, /^replica/);
      const reached = logs.filter(([, text]) => text.replaceAll(probe, '').includes(marker)).map(([alias]) => alias);
      assert.deepEqual(reached, [], 'no refused statement reached any server');
      assert.equal(ro.cluster.poolStats().find((p) => p.alias === local.primaryAlias)!.total, 0, 'the read-only pool never connected to the primary');
    });
  });
}
