// Issue 10: a routed pool type-checks where mysql2's Pool (callback) or mysql2/promise Pool is
// expected, so it must also behave as mysql2's own pools do for every member their typings
// declare: present where a real mysql2 pool has it, `undefined` where a real one has `undefined`
// (mysql2's typings declare its promise Pool as a Connection; ~15 of those members are absent at
// run time). The member lists come from mysql2's typings (checked complete by `npm run typecheck`,
// see mysql2-typed-members.ts); the real pools are made by the installed mysql2 (they connect to
// nothing until a query). The connections' counterpart runs on real servers in
// mysql-driver-fidelity.test.ts.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, test } from 'node:test';
import { isDbRouterError } from '../../src/index.js';
import { createMysqlPool, mysqlDriver, type RoutedMysqlConnection } from '../../src/engines/mysql/index.js';
import { CORE_POOL, CORE_POOL_CONNECTION, PROMISE_POOL } from './mysql2-typed-members.js';
import { FakeMysqlPool, fakeCluster } from './routing-fakes.js';

const require = createRequire(import.meta.url);
const mysql = require('mysql2') as typeof import('mysql2');
const mysqlPromise = require('mysql2/promise') as typeof import('mysql2/promise');

// Port 9 (discard): never contacted, these pools run no query.
const realCore = mysql.createPool({ host: '127.0.0.1', port: 9 });
const realPromise = mysqlPromise.createPool({ host: '127.0.0.1', port: 9 });
after(async () => {
  await realPromise.end();
  await new Promise<void>((resolve) => realCore.end(() => resolve()));
});

function routed() {
  const { cluster, net } = fakeCluster('mysql', 2);
  const pool = createMysqlPool(cluster, { createPool: (config, alias) => new FakeMysqlPool(net, alias, config) });
  return { cluster, pool, net };
}

/** `undefined` or the kind of value, per member. */
function shape(o: object, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => {
    const v = (o as Record<string, unknown>)[n];
    return [n, v === undefined ? 'undefined' : typeof v === 'function' ? 'function' : 'value'];
  }));
}

test('the promise face (createMysqlPool) has what a mysql2/promise pool has, and nothing of Connection it lacks', async () => {
  const { pool } = routed();
  const real = shape(realPromise, PROMISE_POOL);
  assert.ok(Object.values(real).filter((k) => k === 'undefined').length >= 14, 'a real mysql2/promise pool lacks the Connection members its typings declare');
  assert.deepEqual(shape(pool, PROMISE_POOL), real);
  assert.equal(typeof (pool as unknown as Record<symbol, unknown>)[Symbol.asyncDispose], typeof (realPromise as unknown as Record<symbol, unknown>)[Symbol.asyncDispose]);
  await pool.end();
});

test('the callback face (pool.pool, mysqlDriver().createPool()) has what a mysql2 pool has; unprepare is undefined on both', async () => {
  const { pool, cluster } = routed();
  const real = shape(realCore, CORE_POOL);
  assert.equal(real.unprepare, 'undefined', "mysql2's own core pool has no unprepare at run time");
  assert.deepEqual(shape(pool.pool, CORE_POOL), real);
  const driverPool = mysqlDriver(cluster).createPool({});
  assert.deepEqual(shape(driverPool, CORE_POOL), real);
  for (const p of [pool.pool, driverPool]) assert.equal(typeof (p as unknown as Record<symbol, unknown>)[Symbol.dispose], 'function');
  assert.equal(pool.pool.promise(), pool);
  await pool.end();
  await driverPool.promise().end();
});

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => isDbRouterError(e, code as 'UNSUPPORTED'));
}

test('a checked-out connection: changeUser and the server side of the protocol are refused with UNSUPPORTED', async () => {
  const { pool } = routed();
  const conn: RoutedMysqlConnection = await pool.getConnection();
  for (const n of CORE_POOL_CONNECTION) assert.notEqual((conn as unknown as Record<string, unknown>)[n], undefined, n);
  await rejects(conn.changeUser({ user: 'other' }), 'UNSUPPORTED');
  const viaCallback = await new Promise<Error | null>((resolve) => conn.changeUser({ user: 'other' }, resolve));
  assert.ok(isDbRouterError(viaCallback, 'UNSUPPORTED'));
  for (const call of [() => conn.serverHandshake({}), () => conn.writeOk(), () => conn.writeError(), () => conn.writeEof(), () => conn.writeTextResult(), () => conn.writePacket({})]) {
    assert.throws(call, (e: unknown) => isDbRouterError(e, 'UNSUPPORTED'));
  }
  assert.throws(() => conn.query('SELECT 1').start(), (e: unknown) => isDbRouterError(e, 'UNSUPPORTED'));
  assert.equal(conn.authorized, true);
  assert.equal(conn.threadId, null, 'free: no server thread of its own');
  conn.release();
  await pool.end();
});

test('prepare() binds a free connection to the primary first; reset() on a free one drops its session settings', async () => {
  const { pool } = routed();
  const conn = await pool.getConnection();
  await conn.query("SET time_zone = '+00:00'");
  assert.deepEqual(conn.sessionSettings, ["SET time_zone = '+00:00'"]);
  await conn.reset();
  assert.deepEqual(conn.sessionSettings, []);
  assert.equal(conn.boundAlias, undefined);
  // The fake driver has no prepared statements: refused, but only after binding to the primary.
  await rejects(conn.prepare('SELECT ?'), 'UNSUPPORTED');
  assert.equal(conn.boundAlias, 'default');
  conn.release();
  await rejects(conn.reset(), 'CLIENT_RELEASED');
  await pool.end();
});

test('a read-only pool refuses prepare() of a write with READ_ONLY before anything reaches a server', async () => {
  const { cluster, net } = fakeCluster('mysql', 2);
  const pool = createMysqlPool(cluster, { readOnly: true, createPool: (config, alias) => new FakeMysqlPool(net, alias, config) });
  const conn = await pool.getConnection();
  const before = { ran: net.ran.length, acquired: net.acquired };
  await rejects(conn.prepare('DELETE FROM t WHERE id = ?'), 'READ_ONLY');
  assert.equal(conn.boundAlias, undefined, 'not bound: nothing was held');
  assert.deepEqual({ ran: net.ran.length, acquired: net.acquired }, before);
  conn.release();
  await pool.end();
});
