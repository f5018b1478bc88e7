// The `mariadb` connector's pool API through dbrouter/mariadb on real MariaDB replicas: batch (a bulk
// write on the primary; inside a transaction on the held connection), escape/escapeId, the
// connection counters summed over the node pools, toString, and the node pools' 'error' event.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { createCluster, type Cluster } from '../../src/index.js';
import { createMariadbPool, type MariadbPoolLike } from '../../src/engines/mysql/mariadb-connector.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';

const TABLE = 'rt_mdb_api_items';
const require = createRequire(import.meta.url);
const mariadb = require('mariadb') as { createPool(c: Record<string, unknown>): MariadbPoolLike };

describe('the mariadb connector API through createMariadbPool', { skip: await engineSkip('mariadb') }, () => {
  let local: LocalCluster;
  let cluster: Cluster;
  let portOf: Map<number, string>;
  let primary: string;
  const replicas: string[] = [];

  before(async () => {
    local = await sharedCluster('mariadb');
    portOf = new Map(Object.entries(local.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));
    for (const [alias, d] of Object.entries(local.databases)) {
      if (d.role === 'primary') primary = alias;
      else replicas.push(alias);
    }
    const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role }]));
    cluster = createCluster({ databases, debug: true });
    const setup = createMariadbPool(cluster);
    try {
      await setup.query(`DROP TABLE IF EXISTS ${TABLE}`);
      await setup.query(`CREATE TABLE ${TABLE} (id int AUTO_INCREMENT PRIMARY KEY, v varchar(100))`);
    } finally {
      await setup.end();
    }
  });
  after(async () => {
    await cluster?.end();
  });
  beforeEach(async () => {
    await local.waitForAllReplicas();
    cluster.resetStats();
  });
  afterEach(() => assert.equal(cluster.stats().misroutes, 0));

  const ran = (): string[] => cluster.queries.map((q) => q.alias);

  test('pool.batch() runs a bulk INSERT on the primary; a read after it sees every row', async () => {
    const pool = createMariadbPool(cluster);
    try {
      const res = (await pool.batch(`INSERT INTO ${TABLE} (v) VALUES (?)`, [['b1'], ['b2'], ['b3']])) as { affectedRows: number };
      assert.equal(res.affectedRows, 3);
      assert.deepEqual(ran(), [primary]);
      const rows = (await pool.query(`SELECT COUNT(*) AS n, @@port AS port FROM ${TABLE} WHERE v LIKE 'b_'`)) as { n: bigint; port: number }[];
      assert.equal(Number(rows[0]!.n), 3);
      assert.ok(portOf.has(Number(rows[0]!.port)));
    } finally {
      await pool.end();
    }
  });

  test('conn.batch() inside a transaction runs on the held primary connection and rolls back with it', async () => {
    const pool = createMariadbPool(cluster);
    try {
      const conn = await pool.getConnection();
      try {
        await conn.beginTransaction();
        await conn.batch(`INSERT INTO ${TABLE} (v) VALUES (?)`, [['t1'], ['t2']]);
        const [seen] = (await conn.query(`SELECT COUNT(*) AS n, @@port AS port FROM ${TABLE} WHERE v LIKE 't_'`)) as { n: bigint; port: number }[];
        assert.equal(Number(seen!.n), 2, 'the transaction sees its own bulk insert');
        assert.equal(portOf.get(Number(seen!.port)), primary);
        assert.equal(conn.boundAlias, primary);
        await conn.rollback();
      } finally {
        await conn.release();
      }
      assert.ok(ran().every((a) => a === primary), `statements ran on ${ran().join(', ')}`);
      const [after] = (await cluster.using(primary, () => pool.query(`SELECT COUNT(*) AS n FROM ${TABLE} WHERE v LIKE 't_'`))) as { n: bigint }[];
      assert.equal(Number(after!.n), 0, 'rolled back');
    } finally {
      await pool.end();
    }
  });

  test("escape() and escapeId() quote as the connector does; the escaped text reads back on a replica", async () => {
    const pool = createMariadbPool(cluster);
    try {
      const value = "O'Reilly \\ \"x\"";
      assert.equal(pool.escape(value), "'O\\'Reilly \\\\ \\\"x\\\"'");
      assert.equal(pool.escapeId('my`col'), '`my``col`');
      assert.equal(pool.escapeId('plain'), '`plain`');
      const [row] = (await pool.query(`SELECT ${pool.escape(value)} AS ${pool.escapeId('my`col')}, @@port AS port`)) as Record<string, unknown>[];
      assert.equal(row!['my`col'], value);
      assert.ok(replicas.includes(portOf.get(Number(row!.port))!), 'the read ran on a replica');
      const conn = await pool.getConnection();
      try {
        assert.equal(conn.escape(42), '42');
        assert.equal(conn.escapeId('a b'), '`a b`');
      } finally {
        await conn.release();
      }
    } finally {
      await pool.end();
    }
  });

  test('the connection counters are the sums over the node pools; toString names each node', async () => {
    const inner = new Map<string, MariadbPoolLike>();
    const pool = createMariadbPool(cluster, {
      createPool: (config, alias) => {
        Object.assign(config, { connectionLimit: 2, minimumIdle: 0 });
        const p = mariadb.createPool(config);
        inner.set(alias, p);
        return p;
      },
    });
    const sum = (f: (p: MariadbPoolLike) => number): number => [...inner.values()].reduce((n, p) => n + f(p), 0);
    try {
      assert.equal(pool.totalConnections(), 0);
      assert.equal(pool.activeConnections(), 0);
      assert.equal(pool.idleConnections(), 0);
      assert.equal(pool.taskQueueSize(), 0);
      assert.match(pool.toString(), new RegExp(`${primary}: not opened`));
      await pool.query('SELECT 1');
      const conn = await pool.getConnection();
      try {
        await conn.beginTransaction();
        assert.ok(inner.has(primary) && inner.size >= 2, `node pools opened: ${[...inner.keys()].join(', ')}`);
        assert.equal(pool.activeConnections(), 1, 'the held primary connection');
        assert.equal(pool.activeConnections(), sum((p) => p.activeConnections!()));
        assert.equal(pool.idleConnections(), sum((p) => p.idleConnections!()));
        assert.equal(pool.totalConnections(), sum((p) => p.totalConnections!()));
        assert.equal(pool.totalConnections(), pool.activeConnections() + pool.idleConnections());
        assert.match(pool.toString(), new RegExp(`${primary}: active=1 idle=\\d+`));
        await conn.rollback();
      } finally {
        await conn.release();
      }
      assert.equal(pool.activeConnections(), 0);
    } finally {
      await pool.end();
    }
  });

  test("a node pool's 'error' (it cannot connect) arrives on the routed pool's 'error'", async () => {
    const replica = replicas[0]!;
    const pool = createMariadbPool(cluster, {
      // The replica's pool logs in with a wrong password: the connector's pool emits 'error'.
      createPool: (config, alias) => {
        if (alias === replica) Object.assign(config, { password: 'wrong-password', acquireTimeout: 2000 });
        return mariadb.createPool(config);
      },
    });
    try {
      const heard = once(pool, 'error') as Promise<[Error & { code?: string; cause?: unknown }]>;
      // Whether the read then fails or is retried elsewhere is routing's business, not this test's.
      const read = cluster.using(replica, () => pool.query('SELECT 1')).catch(() => undefined);
      const [err] = await heard;
      await read;
      assert.match(String(err.code), /^ER_POOL_(NOT_INITIALIZED|NO_CONNECTION)$/);
      assert.match(String((err.cause as { code?: string } | undefined)?.code), /ACCESS_DENIED/);
      assert.ok(!JSON.stringify(String(err)).includes('wrong-password'));
      const [row] = (await cluster.using(primary, () => pool.query('SELECT @@port AS port'))) as { port: number }[];
      assert.equal(portOf.get(Number(row!.port)), primary, 'the other nodes still answer');
    } finally {
      await pool.end();
    }
  });
});
