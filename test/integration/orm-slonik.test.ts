// Slonik 47 with `driverFactory: createSlonikDriverFactory(cluster)` (dbrouter/slonik): Slonik
// builds its own pg.Client, so it routes through a driver factory of ours. A create then a read with
// every replica paused sees its row; plain reads land on replicas (by inet_server_port()); Slonik's
// `DISCARD ALL` on release keeps them there; pool.transaction and the schema run on the primary
// only; pool.stream reads on a replica and, stopped early, gives its connection back; its type
// parsers apply; pool.end() returns. Asserted by the server's own port and the statement log.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPool, sql, UniqueIntegrityConstraintViolationError, type DatabasePool } from 'slonik';
import { createSlonikDriverFactory } from '../../src/engines/postgres/slonik-driver.js';
import { engineSkip } from '../harness/clusters.js';
import { pgOrmSetup, replicasPaused, within, type PgOrmSetup } from './orm-pg-helpers.js';

describe('Slonik with driverFactory: createSlonikDriverFactory(cluster)', { skip: await engineSkip('postgres') }, () => {
  let s: PgOrmSetup;
  let slonik: DatabasePool;
  const POOL = 2;
  /** Slonik's default reset on release, counted: `DISCARD ALL` must not pin a client to the primary. */
  let resets = 0;

  before(async () => {
    s = await pgOrmSetup({}, POOL);
    slonik = await createPool(s.primaryUrl, {
      driverFactory: createSlonikDriverFactory(s.cluster),
      maximumPoolSize: POOL,
      typeParsers: [{ name: 'int8', parse: (v) => Number.parseInt(v, 10) }],
      resetConnection: async (c) => {
        resets++;
        await c.query('DISCARD ALL');
      },
    });
    s.cluster.resetStats();
    await slonik.query(sql.unsafe`DROP TABLE IF EXISTS rt_slonik_items`);
    await slonik.query(sql.unsafe`CREATE TABLE rt_slonik_items (id bigserial PRIMARY KEY, v text UNIQUE)`);
    await s.local.waitForAllReplicas();
  });
  after(async () => {
    if (slonik !== undefined) await within(slonik.end(), 5000, 'pool.end()');
    await s?.cluster.end();
  });

  test('the schema statements ran on the primary only', () => {
    const ddl = s.cluster.queries.filter((q) => /^(DROP|CREATE) TABLE/i.test(q.sql));
    assert.equal(ddl.length, 2);
    assert.ok(ddl.every((q) => q.alias === 'default'), JSON.stringify(ddl.map((q) => [q.alias, q.sql])));
  });

  test("plain reads with nothing written land on replicas, DISCARD ALL on release included", async () => {
    s.cluster.resetStats();
    const before = resets;
    for (let i = 0; i < 4; i++) {
      const port = await slonik.oneFirst(sql.unsafe`SELECT inet_server_port() AS port`);
      assert.match(s.aliasOf(port)!, /^replica/);
    }
    // Each query checked a client out and released it with DISCARD ALL; the next still read on a replica.
    assert.ok(resets - before >= 4, `DISCARD ALL sent ${resets - before} times`);
    assert.deepEqual(s.cluster.queries.filter((q) => q.alias === 'default').map((q) => q.sql), []);
  });

  test('a create then a read with every replica paused sees its row (on the primary)', async () => {
    const marker = `slonik-${Date.now()}`;
    await replicasPaused(s.local, async () => {
      const id = await slonik.oneFirst(sql.unsafe`INSERT INTO rt_slonik_items (v) VALUES (${marker}) RETURNING id`);
      assert.equal(typeof id, 'number', 'the int8 type parser applies');
      const row = await slonik.one(sql.unsafe`SELECT v, inet_server_port() AS port FROM rt_slonik_items WHERE id = ${id}`);
      assert.equal(row.v, marker);
      assert.equal(s.aliasOf(row.port), 'default');
    });
  });

  test("Slonik's error classes survive routing", async () => {
    await slonik.query(sql.unsafe`INSERT INTO rt_slonik_items (v) VALUES ('dup')`);
    await assert.rejects(slonik.query(sql.unsafe`INSERT INTO rt_slonik_items (v) VALUES ('dup')`), UniqueIntegrityConstraintViolationError);
  });

  test('pool.transaction runs on the primary only', async () => {
    s.cluster.resetStats();
    const port = await slonik.transaction(async (tx) => {
      await tx.query(sql.unsafe`INSERT INTO rt_slonik_items (v) VALUES ('tx')`);
      return Number(await tx.oneFirst(sql.unsafe`SELECT inet_server_port()`));
    });
    assert.equal(s.aliasOf(port), 'default');
    const inTx = s.cluster.queries.filter((q) => !/DISCARD ALL/i.test(q.sql));
    assert.ok(inTx.length >= 4);
    assert.ok(inTx.every((q) => q.alias === 'default'), JSON.stringify(inTx.map((q) => [q.alias, q.sql])));
  });

  test('pool.stream reads on a replica; stopped early, its connection goes back', async () => {
    await slonik.query(sql.unsafe`INSERT INTO rt_slonik_items (v) SELECT 'stream-' || g FROM generate_series(1, 50) g`);
    await s.local.waitForAllReplicas();
    const ports = new Set<string | undefined>();
    let fields: readonly { name: string }[] = [];
    // More early stops than the pool has connections: a leaked connection would hang the next one.
    for (let i = 0; i < POOL + 3; i++) {
      let seen = 0;
      await within(
        slonik.stream(sql.unsafe`SELECT id, inet_server_port() AS port FROM rt_slonik_items ORDER BY id`, (stream) => {
          stream.on('data', (event: { data: { port: number }; fields: readonly { name: string }[] }) => {
            ports.add(s.aliasOf(event.data.port));
            fields = event.fields;
            if (++seen === 3) stream.destroy();
          });
        }).catch(() => undefined),
        5000,
        `stream ${i}`,
      );
      assert.equal(seen, 3);
    }
    assert.deepEqual(fields.map((f) => f.name), ['id', 'port']);
    assert.ok([...ports].every((a) => a !== undefined && a.startsWith('replica')), JSON.stringify([...ports]));
    const total = await within(slonik.oneFirst(sql.unsafe`SELECT count(*) FROM rt_slonik_items`), 5000, 'a read after the streams');
    assert.ok(Number(total) >= 50);
  });

  test('a whole stream ends with every row, on a replica', async () => {
    const rows: number[] = [];
    await within(
      slonik.stream(sql.unsafe`SELECT g AS n, inet_server_port() AS port FROM generate_series(1, 25) g`, (stream) => {
        stream.on('data', (event: { data: { n: number; port: number } }) => {
          rows.push(event.data.n);
          assert.match(s.aliasOf(event.data.port)!, /^replica/);
        });
      }),
      5000,
      'a whole stream',
    );
    assert.deepEqual(rows, Array.from({ length: 25 }, (_, i) => i + 1));
  });
});
