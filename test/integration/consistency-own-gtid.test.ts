// Read-your-writes on MariaDB with the write's own GTID: mysql2 connections track `last_gtid`, so an
// autocommit write's (or a COMMIT's) OK packet carries the GTID it committed and the unit of work
// needs no position capture. Asserted by what each read saw, where it ran (the server's own port),
// the consistency counters, and the commands the primary received (counted by a proxy in front of
// it, from the bytes on the wire).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import { createCluster, type Cluster, type ClusterConfig } from '../../src/index.js';
import { createMysqlPool, type RoutedMysqlPool } from '../../src/engines/mysql/index.js';
import { CONSISTENCY } from '../../src/cluster/internals.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';
import { countingProxy, type MysqlCommandCounter } from '../harness/mysql-commands.js';
import type { TcpProxy } from '../harness/tcp-proxy.js';
import { SECRET } from './consistency-helpers.js';

const GTID = /^\d+-\d+-\d+$/;

describe('read-your-writes from the write\'s own GTID (mariadb, mysql2)', { skip: await engineSkip('mariadb') }, () => {
  let local: LocalCluster;
  let proxy: TcpProxy;
  let commands: MysqlCommandCounter;
  let admin: mysql.Connection;
  const opened: { cluster: Cluster; pool: RoutedMysqlPool }[] = [];
  let n = 0;
  const id = () => Date.now() * 100 + (n++ % 100);

  /** A cluster whose primary is reached through the counting proxy; no health monitor (it would query the primary too). */
  const open = (extra: Partial<ClusterConfig> = {}): { cluster: Cluster; pool: RoutedMysqlPool } => {
    const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => {
      const url = new URL(d.url);
      if (alias === local.primaryAlias) url.port = String(proxy.port);
      return [alias, { url: url.toString(), role: d.role }];
    }));
    const cluster = createCluster({ databases, health: false, debug: true, consistency: { secret: SECRET }, ...extra });
    const pool = createMysqlPool(cluster);
    opened.push({ cluster, pool });
    return { cluster, pool };
  };
  const aliasAt = (port: unknown): string => {
    const hit = Object.entries(local.databases).find(([, d]) => Number(new URL(d.url).port) === Number(port));
    assert.ok(hit, `port ${String(port)} is no node`);
    return hit[0];
  };
  const seen = async (pool: RoutedMysqlPool, key: number): Promise<{ v: unknown; alias: string }> => {
    const [rows] = await pool.query('SELECT (SELECT v FROM og_items WHERE id = ?) AS v, @@port AS port', [key]);
    const row = (rows as Record<string, unknown>[])[0]!;
    return { v: row.v ?? null, alias: aliasAt(row.port) };
  };
  /** The replica's replay position reaches the primary's now. */
  const replicaHas = async (alias: string, gtid: string): Promise<boolean> => {
    const c = await mysql.createConnection(local.databases[alias]!.url);
    try {
      const [rows] = await c.query('SELECT @@global.gtid_slave_pos AS p');
      const have = String((rows as { p: string }[])[0]!.p);
      const [domain, , seq] = gtid.split('-');
      return have.split(',').some((g) => g.split('-')[0] === domain && BigInt(g.split('-')[2]!) >= BigInt(seq!));
    } finally {
      await c.end();
    }
  };
  /** Warms the pools (a connection's set-up is not what is counted), then zeroes every counter. */
  const warm = async (cluster: Cluster, pool: RoutedMysqlPool): Promise<void> => {
    await pool.query('SELECT 1');
    await cluster.consistency('strong', () => pool.query('SELECT 1'));
    cluster.resetStats();
    commands.reset();
  };

  before(async () => {
    local = await sharedCluster('mariadb');
    ({ proxy, commands } = await countingProxy(Number(new URL(local.databases[local.primaryAlias]!.url).port)));
    admin = await mysql.createConnection(local.databases[local.primaryAlias]!.url);
    await admin.query('DROP TABLE IF EXISTS og_items');
    await admin.query('CREATE TABLE og_items (id bigint PRIMARY KEY, v varchar(100))');
    await local.waitForAllReplicas();
  });
  after(async () => {
    for (const o of opened) await o.pool.end();
    await admin?.end();
    await proxy?.close();
    for (const r of local.replicaAliases) await local.resume(r).catch(() => {});
  });

  test('a write, then a read at once: the primary receives the write alone; the read runs where the write is', async () => {
    const { cluster, pool } = open();
    await warm(cluster, pool);
    const key = id();
    const read = await cluster.withToken(undefined, async () => {
      await pool.query('INSERT INTO og_items VALUES (?, ?)', [key, 'at-once']);
      const position = await cluster[CONSISTENCY].position();
      assert.match(position ?? '', GTID, 'the unit of work knows its write\'s GTID');
      return { ...(await seen(pool, key)), position: position! };
    });
    assert.equal(read.v, 'at-once', 'the read saw its write');
    if (read.alias !== local.primaryAlias) assert.ok(await replicaHas(read.alias, read.position), `${read.alias} had replayed ${read.position}`);
    assert.equal(cluster.consistencyStats().captures, 0, 'no position capture');
    const onPrimary = read.alias === local.primaryAlias ? 2 : 1;
    assert.equal(commands.count, onPrimary, `commands on the primary: ${commands.texts.join(' | ')}`);
  });

  test('replicas caught up: the read goes to a replica; one replica paused: to the other; all paused: to the primary', async () => {
    const { cluster, pool } = open();
    await warm(cluster, pool);
    const [r1, r2] = local.replicaAliases as [string, string];
    const key = id();
    try {
      await cluster.withToken(undefined, async () => {
        await pool.query('INSERT INTO og_items VALUES (?, ?)', [key, 'caught-up']);
        await local.waitForAllReplicas();
        assert.match((await seen(pool, key)).alias, /^replica/);
        assert.equal((await seen(pool, key)).v, 'caught-up');
      });
      await local.pause(r1);
      const key2 = id();
      await cluster.withToken(undefined, async () => {
        await pool.query('INSERT INTO og_items VALUES (?, ?)', [key2, 'one-paused']);
        await local.waitForReplay(r2, await local.primaryPosition());
        for (let i = 0; i < 5; i++) assert.deepEqual(await seen(pool, key2), { v: 'one-paused', alias: r2 }, 'only the running replica has it');
      });
      await local.pause(r2);
      const key3 = id();
      await cluster.withToken(undefined, async () => {
        await pool.query('INSERT INTO og_items VALUES (?, ?)', [key3, 'all-paused']);
        assert.deepEqual(await seen(pool, key3), { v: 'all-paused', alias: local.primaryAlias });
        assert.equal(cluster.queries.at(-1)!.reason, 'read-your-writes');
        const other = await cluster.withToken(undefined, () => seen(pool, key3));
        assert.equal(other.v, null, 'another unit of work reads a replica that has not replayed it');
      });
      const s = cluster.consistencyStats();
      assert.equal(s.captures, 0, 'three writes, no position capture');
      assert.ok(s.primaryFallbacks >= 1);
    } finally {
      await local.resume(r1);
      await local.resume(r2);
      await local.waitForAllReplicas();
    }
  });

  test('a replica ahead of the last primary position seen, by our own write: taken at once, the primary not asked to settle it', async () => {
    const { cluster, pool } = open();
    await warm(cluster, pool);
    const key = id();
    // A write that changed nothing: its read captures a primary position (the last one seen).
    await cluster.withToken(undefined, async () => {
      await pool.query('UPDATE og_items SET v = v WHERE id = ?', [key]);
      await seen(pool, key);
    });
    assert.equal(cluster.consistencyStats().captures, 1, 'a primary position was seen');
    commands.reset();
    await cluster.withToken(undefined, async () => {
      await pool.query('INSERT INTO og_items VALUES (?, ?)', [key, 'ahead']);
      await local.waitForAllReplicas();
      const r = await seen(pool, key);
      assert.equal(r.v, 'ahead');
      assert.match(r.alias, /^replica/, 'a replica that replayed the write serves it');
    });
    assert.equal(commands.count, 1, `the write alone reached the primary: ${commands.texts.join(' | ')}`);
    assert.equal(cluster.consistencyStats().captures, 1);
  });

  test('a transaction: its statements set no position, its COMMIT\'s GTID does', async () => {
    const { cluster, pool } = open();
    await warm(cluster, pool);
    const key = id();
    await cluster.withToken(undefined, async () => {
      const conn = await pool.getConnection();
      try {
        await conn.beginTransaction();
        await conn.query('INSERT INTO og_items VALUES (?, ?)', [key, 'tx-1']);
        await conn.query('UPDATE og_items SET v = ? WHERE id = ?', ['tx', key]);
        assert.equal(await cluster[CONSISTENCY].position(), undefined, 'nothing committed yet: no position');
        await conn.commit();
      } finally {
        conn.release();
      }
      const position = await cluster[CONSISTENCY].position();
      const [rows] = await admin.query('SELECT @@global.gtid_binlog_pos AS p');
      assert.equal(position, (rows as { p: string }[])[0]!.p, 'the COMMIT\'s GTID is the primary\'s last');
      await local.waitForAllReplicas();
      assert.deepEqual(await seen(pool, key).then((r) => [r.v, r.alias.startsWith('replica')]), ['tx', true]);
    });
    assert.equal(cluster.consistencyStats().captures, 0);
  });

  test('a write that changed nothing carries no GTID: the position is asked, once', async () => {
    const { cluster, pool } = open();
    await warm(cluster, pool);
    await local.pause(local.replicaAliases[0]!);
    await local.pause(local.replicaAliases[1]!);
    try {
      const key = id();
      await pool.query('INSERT INTO og_items VALUES (?, ?)', [key, 'noop']);
      cluster.resetStats();
      await cluster.withToken(undefined, async () => {
        const [r] = await pool.query('UPDATE og_items SET v = ? WHERE id = ?', ['noop', key]);
        assert.equal((r as { stateChanges?: unknown }).stateChanges, undefined, 'no GTID reported');
        // Nothing was written: wherever the read runs, it sees the row as the primary has it.
        assert.equal((await seen(pool, key)).v, 'noop');
      });
      assert.equal(cluster.consistencyStats().captures, 1, 'the lazy capture, as for any write whose position is unknown');
      // A real write after it in the same unit of work: its GTID alone does not stand for the
      // earlier write (still unknown), so the capture still runs.
      await cluster.withToken(undefined, async () => {
        await pool.query('UPDATE og_items SET v = ? WHERE id = ?', ['noop', key]);
        await pool.query('UPDATE og_items SET v = ? WHERE id = ?', ['changed', key]);
        assert.deepEqual(await seen(pool, key), { v: 'changed', alias: local.primaryAlias });
      });
      assert.equal(cluster.consistencyStats().captures, 2);
    } finally {
      for (const r of local.replicaAliases) await local.resume(r);
      await local.waitForAllReplicas();
    }
  });

  test('the token after a write needs no round trip, and another cluster object honours it', async () => {
    const { cluster, pool } = open();
    await warm(cluster, pool);
    const reader = open();
    await warm(reader.cluster, reader.pool);
    const key = id();
    const [r1, r2] = local.replicaAliases as [string, string];
    await local.pause(r1);
    await local.pause(r2);
    try {
      const token = await cluster.withToken(undefined, async () => {
        await pool.query('INSERT INTO og_items VALUES (?, ?)', [key, 'token']);
        return cluster.consistencyToken();
      });
      assert.ok(token !== undefined);
      assert.equal(commands.count, 1, `the write alone reached the primary: ${commands.texts.join(' | ')}`);
      assert.equal(cluster.consistencyStats().captures, 0);
      assert.deepEqual(await reader.cluster.withToken(token, () => seen(reader.pool, key)), { v: 'token', alias: local.primaryAlias });
      await local.resume(r2);
      await local.waitForReplay(r2, await local.primaryPosition());
      assert.deepEqual(await reader.cluster.withToken(token, () => seen(reader.pool, key)), { v: 'token', alias: r2 }, 'the replica that replayed it');
      assert.equal(reader.cluster.consistencyStats().tokens.accepted, 2);
      assert.equal(reader.cluster.consistencyStats().captures, 0);
    } finally {
      await local.resume(r1);
      await local.resume(r2);
      await local.waitForAllReplicas();
    }
  });

  test('tracking turned off by the application (onConnect): the capture, and still no stale read', async () => {
    const { cluster, pool } = open({ onConnect: ["SET SESSION session_track_system_variables = ''"] });
    await warm(cluster, pool);
    for (const r of local.replicaAliases) await local.pause(r);
    try {
      const key = id();
      await cluster.withToken(undefined, async () => {
        const [r] = await pool.query('INSERT INTO og_items VALUES (?, ?)', [key, 'off']);
        assert.equal((r as { stateChanges?: unknown }).stateChanges, undefined, 'no GTID reported');
        assert.deepEqual(await seen(pool, key), { v: 'off', alias: local.primaryAlias });
      });
      assert.equal(cluster.consistencyStats().captures, 1);
    } finally {
      for (const r of local.replicaAliases) await local.resume(r);
      await local.waitForAllReplicas();
    }
  });

  test('a transaction that committed before its COMMIT (a BEGIN inside it commits it): the COMMIT\'s GTID does not stand for it', async () => {
    const { cluster, pool } = open();
    await warm(cluster, pool);
    for (const r of local.replicaAliases) await local.pause(r);
    try {
      const key = id();
      await cluster.withToken(undefined, async () => {
        const c = await pool.getConnection();
        try {
          await c.query('START TRANSACTION');
          await c.query('INSERT INTO og_items VALUES (?, ?)', [key, 'first']);
          const [begin] = await c.query('START TRANSACTION');
          assert.match(String((begin as { stateChanges?: { systemVariables?: { last_gtid?: string } } }).stateChanges?.systemVariables?.last_gtid), GTID, 'the second BEGIN committed the first transaction');
          await c.query('INSERT INTO og_items VALUES (?, ?)', [key + 1, 'second']);
          await c.query('COMMIT');
        } finally {
          c.release();
        }
        assert.deepEqual(await seen(pool, key), { v: 'first', alias: local.primaryAlias });
      });
      assert.equal(cluster.consistencyStats().captures, 1, 'asked, not taken from the COMMIT');
    } finally {
      for (const r of local.replicaAliases) await local.resume(r);
      await local.waitForAllReplicas();
    }
  });
});
