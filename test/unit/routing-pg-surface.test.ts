// Every method and property node-postgres's Pool and Client define on their prototypes (listed
// from the installed driver, not by hand) exists on the routed pool and client, except a short
// documented list of deliberate omissions (docs/orms.md). Underscore members are pg's internals.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import pg from 'pg';
import { createPgPool, RoutedPgClient, RoutedPgPool } from '../../src/engines/postgres/index.js';
import { FakePgPool, fakeCluster } from './routing-fakes.js';

/** Deliberately not offered; each is explained in docs/orms.md ("Deliberate omissions"). */
const OMITTED: Record<string, readonly string[]> = {
  // pg-pool's way to open a client outside the pool's bookkeeping: a routed pool has no single server.
  Pool: ['newClient'],
  // `cancel` is deprecated in pg (use `pg_cancel_backend`); `getStartupConf` builds a startup packet.
  Client: ['cancel', 'getStartupConf'],
};

function publicMembers(ctor: { prototype: object }): string[] {
  const out = new Set<string>();
  for (let p: object | null = ctor.prototype; p !== null && p !== EventEmitter.prototype && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const k of Object.getOwnPropertyNames(p)) if (k !== 'constructor' && !k.startsWith('_')) out.add(k);
  }
  return [...out].sort();
}

function ownMembers(ctor: { prototype: object }): Set<string> {
  return new Set(Object.getOwnPropertyNames(ctor.prototype));
}

test('the routed pool defines every public member of pg.Pool.prototype (or omits it on purpose)', () => {
  const listed = publicMembers(pg.Pool);
  assert.ok(listed.includes('query') && listed.includes('expiredCount'), 'listed from the installed pg');
  const own = ownMembers(RoutedPgPool);
  const missing = listed.filter((k) => !own.has(k) && !OMITTED.Pool!.includes(k));
  assert.deepEqual(missing, []);
});

test('the routed client defines every public member of pg.Client.prototype (or omits it on purpose)', () => {
  const listed = publicMembers(pg.Client);
  assert.ok(listed.includes('escapeLiteral') && listed.includes('getTransactionStatus'));
  const own = ownMembers(RoutedPgClient);
  const missing = listed.filter((k) => !own.has(k) && !OMITTED.Client!.includes(k));
  assert.deepEqual(missing, []);
});

test('instances answer as pg objects: instanceof, counters, options, release', async () => {
  const { cluster, net } = fakeCluster('postgres', 1);
  const pool = createPgPool(cluster, { createPool: (config, alias) => new FakePgPool(net, alias, config) });
  assert.ok(pool instanceof pg.Pool);
  for (const k of ['totalCount', 'idleCount', 'waitingCount', 'expiredCount']) assert.equal(typeof (pool as unknown as Record<string, unknown>)[k], 'number', k);
  assert.equal(pool.ending, false);
  assert.equal(pool.ended, false);
  assert.equal(typeof pool.options.max, 'number');
  const c = await pool.connect();
  assert.ok(c instanceof pg.Client);
  assert.equal(c.getTransactionStatus(), 'I');
  assert.equal(c.activeQuery, null);
  c.release(true);
  await new Promise<void>((resolve) => pool.end(() => resolve()));
  assert.equal(pool.ended, true);
});
