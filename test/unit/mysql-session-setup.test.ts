// Issue 10, set-up that is not session state (MySQL side): which SETs a free routed connection may
// carry to replicas (isPortableSet), the cluster's onConnect option, and a driver module's
// createPool/createConnection over fake node pools: a portable SET does not pin the connection to
// the primary, and the reads after it still go to replicas.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCluster, isDbRouterError } from '../../src/index.js';
import { createMysqlPool, isPortableSet } from '../../src/engines/mysql/index.js';
import { FakeMysqlPool, fakeCluster } from './routing-fakes.js';

test('isPortableSet: value-shaping settings with literal values only', () => {
  for (const sql of ["SET time_zone = '+00:00'", "set session time_zone='UTC'", 'SET NAMES utf8mb4', "SET NAMES 'utf8mb4' COLLATE utf8mb4_unicode_ci",
    "SET @@SESSION.sql_mode = 'STRICT_TRANS_TABLES'", "SET time_zone = '+00:00', sql_mode = 'ANSI'", 'SET group_concat_max_len = 100000;']) {
    assert.equal(isPortableSet(sql), true, sql);
  }
  for (const sql of ['SET @x = 1', 'SET autocommit = 0', 'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'SET foreign_key_checks = 0',
    "SET time_zone = (SELECT '+00:00')", "SET time_zone = '+00:00'; DELETE FROM t", 'SET GLOBAL time_zone = \'+00:00\'', "SET time_zone = @tz"]) {
    assert.equal(isPortableSet(sql), false, sql);
  }
});

test('onConnect: an array of statements; anything else is CONFIG_INVALID', () => {
  assert.doesNotThrow(() => createCluster({ databases: { default: 'mysql://u@h/db' }, onConnect: ["SET time_zone = '+00:00'"] }));
  for (const bad of ['SET x = 1', [1], [''], {}]) {
    assert.throws(() => createCluster({ databases: { default: 'mysql://u@h/db' }, onConnect: bad as never }), (e) => isDbRouterError(e, 'CONFIG_INVALID') && /onConnect/.test(e.message));
  }
});

test('a checked-out connection that sends a portable SET stays free: its reads go to replicas; any other SET binds it to the primary', async () => {
  const { cluster, net } = fakeCluster('mysql', 2);
  const pool = createMysqlPool(cluster, { createPool: (config, alias) => new FakeMysqlPool(net, alias, config) });
  const conn = await pool.getConnection();
  await conn.query("SET time_zone = '+00:00'");
  assert.equal(conn.boundAlias, undefined);
  assert.deepEqual(conn.sessionSettings, ["SET time_zone = '+00:00'"]);
  await conn.query('SELECT 1');
  assert.match(net.last().alias, /^replica/);
  await conn.query('SET @x = 1');
  assert.equal(conn.boundAlias, 'default');
  conn.release();
  await pool.end();
});
