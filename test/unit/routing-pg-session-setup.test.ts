// Which statements a routed pg client treats as session set-up (remembered and replayed on every
// node connection, not a reason to stay on the primary), and which it must not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applySetup, sessionSetup } from '../../src/engines/postgres/session-setup.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { FakePgPool, fakeCluster } from './routing-fakes.js';

test('set-up the ORMs send is recognized, several per text included', () => {
  for (const sql of [
    "SET TIME ZONE 'UTC'",
    "SET client_min_messages TO warning;SET TIME ZONE INTERVAL '+09:00' HOUR TO MINUTE;",
    'SET standard_conforming_strings=on;',
    'SET search_path TO "$user", public',
    "SET SESSION application_name = 'app; still quoted'",
    'RESET search_path',
    'DISCARD ALL',
    'reset all',
  ]) assert.ok(sessionSetup(sql) !== undefined, sql);
});

test('statements that change more than settings are not set-up', () => {
  for (const sql of [
    'SET ROLE admin',
    'SET SESSION AUTHORIZATION admin',
    'SET LOCAL search_path TO x',
    'SET TRANSACTION READ ONLY',
    'SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY',
    'SET default_transaction_read_only = on',
    'SET CONSTRAINTS ALL DEFERRED',
    "SET TIME ZONE 'UTC'; DELETE FROM t",
    'SET search_path TO x -- comment; DELETE FROM t',
    'RESET ROLE',
    'DISCARD TEMP',
    'SELECT 1',
  ]) assert.equal(sessionSetup(sql), undefined, sql);
});

test('DISCARD ALL / RESET ALL forget what came before', () => {
  const s1 = applySetup([], sessionSetup("SET TIME ZONE 'UTC'; SET search_path TO a")!);
  assert.equal(s1.length, 2);
  assert.deepEqual(applySetup(s1, sessionSetup('DISCARD ALL')!), []);
});

test('a checked-out client replays its set-up on the replica connection it reads on, and resets it on release', async () => {
  const { cluster, net } = fakeCluster('postgres', 1);
  const pool = createPgPool(cluster, { createPool: (config, alias) => new FakePgPool(net, alias, config) });
  const c = await pool.connect();
  await c.query("SET TIME ZONE 'UTC'");
  assert.equal(net.last().alias, 'replica1');
  await c.query('SELECT 1');
  assert.deepEqual([net.last().alias, net.last().via], ['replica1', 'client'], 'the read ran on the connection that holds the setting');
  assert.equal(c.boundAlias, undefined);
  await c.query('INSERT INTO t VALUES (1)');
  const onPrimary = net.ran.filter((r) => r.alias === 'default').map((r) => r.sql);
  assert.deepEqual(onPrimary, ["SET TIME ZONE 'UTC'", 'INSERT INTO t VALUES (1)'], 'replayed on the primary connection before the write');
  c.release();
  await new Promise((r) => setImmediate(r));
  assert.equal(net.ran.filter((r) => r.sql === 'RESET ALL').length, 2, 'both connections reset before going back');
  await pool.end();
});
