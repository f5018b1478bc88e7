// Kysely over dbrouter's routed pools, unchanged: selects go to replicas, inserts/updates and
// transactions to the primary. Where each statement ran is asserted twice: by the server's own
// port and by the cluster's statement log; what it saw, with replay paused.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import Cursor from 'pg-cursor';
import { Kysely, MysqlDialect, PostgresDialect, sql, type Generated } from 'kysely';
import { createCluster, type Cluster } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';

interface DB {
  rt_ky_items: { id: Generated<number>; v: string };
}

const engines = [
  { engine: 'postgres' as const, port: 'inet_server_port()', skip: await engineSkip('postgres') },
  { engine: 'mariadb' as const, port: '@@port', skip: await engineSkip('mariadb') },
];

for (const e of engines) {
  describe(`Kysely over the routed ${e.engine} pool`, { skip: e.skip }, () => {
    let local: LocalCluster;
    let cluster: Cluster;
    let db: Kysely<DB>;
    let portOf: Map<number, string>;
    const port = sql<number>`${sql.raw(e.port)}`.as('port');
    const aliasOf = (rows: { port: number }[]) => portOf.get(Number(rows[0]!.port));

    before(async () => {
      local = await sharedCluster(e.engine);
      portOf = new Map(Object.entries(local.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));
      const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role, pool: { max: 1 } }]));
      // Routing alone: read-your-writes (the consistency layer, tested on its own) is off here.
      cluster = createCluster({ databases, debug: true, consistency: 'eventual' });
      const dialect = e.engine === 'postgres' ? new PostgresDialect({ pool: createPgPool(cluster), cursor: Cursor }) : new MysqlDialect({ pool: createMysqlPool(cluster) });
      db = new Kysely<DB>({ dialect });
      await db.schema.dropTable('rt_ky_items').ifExists().execute();
      await db.schema.createTable('rt_ky_items')
        .addColumn('id', e.engine === 'postgres' ? 'serial' : 'integer', (c) => (e.engine === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('v', 'varchar(100)')
        .execute();
      await local.waitForAllReplicas();
      assert.equal(cluster.stats().misroutes, 0, 'the schema statements were routed to the primary, not saved by the safety net');
    });
    after(async () => {
      await db?.destroy();
    });
    beforeEach(() => {
      cluster.resetStats();
    });
    // The safety net re-runs a write a replica refused on the primary: a misroute would pass every
    // "ran on the primary" assertion below, so none may happen.
    afterEach(() => {
      assert.equal(cluster.stats().misroutes, 0, JSON.stringify(cluster.queries.filter((q) => q.misroute).map((q) => q.sql)));
    });

    test('selects run on replicas', async () => {
      cluster.resetStats();
      const rows = await db.selectFrom('rt_ky_items').select(port).execute();
      // An empty table gives no row: ask the port without a table too.
      const r2 = await db.selectNoFrom(port).execute();
      assert.match(aliasOf(r2)!, /^replica/);
      assert.equal(rows.length, 0);
      assert.ok(cluster.queries.every((q) => q.role === 'replica'), JSON.stringify(cluster.queries));
    });

    test('inserts and updates run on the primary; the primary sees them while replicas are paused', async () => {
      await local.pause('replica1');
      await local.pause('replica2');
      try {
        cluster.resetStats();
        const marker = `ky-${Date.now()}`;
        await db.insertInto('rt_ky_items').values({ v: marker }).execute();
        await db.updateTable('rt_ky_items').set({ v: `${marker}-u` }).where('v', '=', marker).execute();
        assert.deepEqual(cluster.queries.map((q) => q.alias), ['default', 'default']);
        const onReplica = await db.selectFrom('rt_ky_items').select('v').where('v', '=', `${marker}-u`).execute();
        assert.equal(onReplica.length, 0, 'replicas are paused');
        const onPrimary = await cluster.primary(() => db.selectFrom('rt_ky_items').select(['v', port]).where('v', '=', `${marker}-u`).execute());
        assert.equal(onPrimary.length, 1);
        assert.equal(aliasOf(onPrimary), 'default');
      } finally {
        await local.resume('replica1');
        await local.resume('replica2');
      }
      await local.waitForAllReplicas();
    });

    test('a transaction runs on the primary, reads included, and sees its own writes', async () => {
      cluster.resetStats();
      const marker = `kytx-${Date.now()}`;
      const seen = await db.transaction().execute(async (trx) => {
        await trx.insertInto('rt_ky_items').values({ v: marker }).execute();
        return trx.selectFrom('rt_ky_items').select(['v', port]).where('v', '=', marker).execute();
      });
      assert.equal(seen.length, 1);
      assert.equal(aliasOf(seen), 'default');
      assert.ok(cluster.queries.every((q) => q.alias === 'default'), JSON.stringify(cluster.queries.map((q) => [q.sql, q.alias])));
      assert.deepEqual(cluster.queries.map((q) => q.reason).filter((r) => r === 'transaction').length, cluster.queries.length);
    });

    // Kysely's own stream cases (its select/insert/update/delete tests), re-created on both engines:
    // all rows in order, a chunk size, early breaks, a stream inside a transaction, an error before
    // the first row and one in the middle. The pools have one connection per node (before()), so a
    // connection a stream kept would block the statements after it.
    test('stream(): rows in order from a replica, chunk sizes, early breaks, in a transaction on the primary, errors; nothing leaks', async () => {
      await db.insertInto('rt_ky_items').values(Array.from({ length: 10 }, (_, i) => ({ v: `st${String(i).padStart(2, '0')}` }))).execute();
      await local.waitForAllReplicas();
      const expected = Array.from({ length: 10 }, (_, i) => `st${String(i).padStart(2, '0')}`);
      for (const chunkSize of [undefined, 1, 3]) {
        const all: { v: string; port: number }[] = [];
        for await (const row of db.selectFrom('rt_ky_items').select(['v', port]).where('v', 'like', 'st%').orderBy('v').stream(chunkSize)) all.push(row);
        assert.deepEqual(all.map((r) => r.v), expected, `chunk size ${String(chunkSize)}`);
        assert.ok(all.every((r) => /^replica/.test(portOf.get(Number(r.port))!)), `chunk size ${String(chunkSize)}: every row from a replica`);
      }
      // More early stops than there are connections (one per node): each must give its connection back.
      for (let round = 0; round < 5; round++) {
        let n = 0;
        for await (const row of db.selectFrom('rt_ky_items').select(['v', port]).stream(round % 2 === 0 ? 1 : undefined)) {
          assert.match(portOf.get(Number(row.port))!, /^replica/);
          if (++n === 2) break;
        }
        assert.equal(n, 2);
      }
      const inTx = await db.transaction().execute(async (trx) => {
        await trx.insertInto('rt_ky_items').values({ v: 'st-tx' }).execute();
        const rows: { v: string; port: number }[] = [];
        for await (const row of trx.selectFrom('rt_ky_items').select(['v', port]).where('v', '=', 'st-tx').stream(1)) rows.push(row);
        return rows;
      });
      assert.equal(inTx.length, 1);
      assert.equal(aliasOf(inTx), 'default');
      await assert.rejects(async () => {
        for await (const row of db.selectFrom('rt_no_such_table' as 'rt_ky_items').selectAll().stream()) void row;
      }, e.engine === 'postgres' ? /does not exist/ : /doesn't exist/);
      // An error in the middle: row 6 fails (pg: division by zero; MariaDB: a subquery with two rows).
      const midway = e.engine === 'postgres'
        ? db.selectFrom(sql<{ n: number }>`generate_series(1, 10)`.as('n')).select([sql<number>`n`.as('n'), sql<number>`10 / (n - 6)`.as('q')])
        : db.selectFrom(sql<{ seq: number }>`seq_1_to_10`.as('s')).select([sql<number>`s.seq`.as('n'), sql<number>`(SELECT 1 FROM seq_1_to_2 WHERE s.seq >= 6)`.as('q')]);
      const before: number[] = [];
      await assert.rejects(async () => {
        for await (const row of midway.stream(1)) before.push(Number(row.n));
      }, e.engine === 'postgres' ? /division by zero/ : /more than 1 row/);
      // pg's cursor hands rows 1..5 out before the error; MariaDB may send the error before any row.
      if (e.engine === 'postgres') assert.deepEqual(before, [1, 2, 3, 4, 5]);
      else assert.ok(before.every((n, i) => n === i + 1 && n < 6), JSON.stringify(before));
      for (const alias of Object.keys(local.databases)) {
        const rows = await Promise.race([
          cluster.using(alias, () => db.selectNoFrom(port).execute()),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${alias}: a connection leaked`)), 5000).unref()),
        ]);
        assert.equal(aliasOf(rows), alias);
      }
    });

    // PostgreSQL: Kysely sends `start transaction read only`; MySQL: `set transaction read only`
    // then `begin`. Either way the transaction holds one replica.
    test('a read-only transaction runs on one replica', async () => {
      cluster.resetStats();
      const rows = await db.transaction().setAccessMode('read only').execute(async (trx) => trx.selectNoFrom(port).execute());
      assert.match(aliasOf(rows)!, /^replica/);
      assert.equal(new Set(cluster.queries.map((q) => q.alias)).size, 1, JSON.stringify(cluster.queries.map((q) => [q.sql, q.alias])));
    });
  });
}
