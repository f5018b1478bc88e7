import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCluster, isDbRouterError, usePrimary, useReplica } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { FakePgPool, fakeCluster } from './routing-fakes.js';

const databases = {
  default: { url: 'postgres://app:pw@p.test/app', role: 'primary' as const },
  replica1: { host: 'r1.test', role: 'replica' as const },
  replica2: { host: 'r2.test', role: 'replica' as const },
};

test('primary(), replica(), using(): where reads and writes go', async () => {
  const c = createCluster({ databases });
  assert.equal(c.primary(() => c.route('SELECT 1').node.alias), 'default');
  assert.equal(c.primary(() => c.route('SELECT 1').reason), 'scope-primary');
  assert.match(c.replica(() => c.route('SELECT 1').node.alias), /^replica/);
  assert.equal(c.using('replica2', () => c.route('SELECT 1').node.alias), 'replica2');
  // Forcing a replica never sends a write there.
  assert.equal(c.replica(() => c.route('INSERT INTO t VALUES (1)').node.alias), 'default');
  assert.equal(c.using('replica2', () => c.route('INSERT INTO t VALUES (1)').reason), 'write-in-replica-scope');
  assert.equal(await c.primary(async () => {
    await sleep(1);
    return c.route('SELECT 1').node.alias;
  }), 'default');
});

test('using() an unknown alias is UNKNOWN_ALIAS with a suggestion', () => {
  const c = createCluster({ databases });
  assert.throws(() => c.using('replica3', () => 1), (e) => isDbRouterError(e, 'UNKNOWN_ALIAS') && /replica3/.test(e.message) && /did you mean/.test(e.message));
  assert.throws(() => c.pinAll('nope'), (e) => isDbRouterError(e, 'UNKNOWN_ALIAS'));
});

test('concurrent scopes never leak into each other', async () => {
  const c = createCluster({ databases });
  const results: string[] = [];
  const work = async (name: string, delays: number[]) => {
    for (const d of delays) {
      await sleep(d);
      results.push(`${name}:${c.route('SELECT 1').node.role}`);
    }
  };
  await Promise.all([
    c.primary(() => work('p', [3, 1, 4, 1, 5])),
    c.replica(() => work('r', [1, 5, 2, 6, 1])),
    work('n', [2, 2, 2, 2, 2]),
    c.using('replica1', () => work('u', [4, 1, 1, 3, 2])),
  ]);
  for (const r of results) {
    const [name, role] = r.split(':');
    assert.equal(role, name === 'p' ? 'primary' : 'replica', r);
  }
  assert.equal(results.length, 20);
});

test('standard decorators @usePrimary / @useReplica apply across awaits', async () => {
  const c = createCluster({ databases });
  class Service {
    @usePrimary
    async fresh(): Promise<string> {
      await sleep(1);
      return c.route('SELECT 1').node.alias;
    }

    @useReplica
    report(): string {
      return c.route('SELECT 1').node.role;
    }

    @useReplica
    write(): string {
      return c.route('UPDATE t SET a = 1').node.alias;
    }
  }
  const s = new Service();
  assert.equal(await s.fresh(), 'default');
  assert.equal(s.report(), 'replica');
  assert.equal(s.write(), 'default');
  assert.match(Service.prototype.fresh.name, /fresh/);
});

test('enter()/revert(): the manual form', async () => {
  const c = createCluster({ databases });
  const run = async () => {
    const h = c.enter('primary');
    try {
      await sleep(1);
      assert.equal(c.route('SELECT 1').node.alias, 'default');
    } finally {
      c.revert(h);
    }
    assert.match(c.route('SELECT 1').node.alias, /^replica/);
  };
  await run();
  const h = c.enter({ alias: 'replica2' });
  assert.equal(c.route('SELECT 1').node.alias, 'replica2');
  c.revert(h);
  assert.throws(() => c.enter({ alias: 'x' }), (e) => isDbRouterError(e, 'UNKNOWN_ALIAS'));
  assert.throws(() => c.enter('master' as 'primary'), (e) => isDbRouterError(e, 'SCOPE_INVALID'));
});

test('pinAll() sends every statement, reads and writes, to one node until unpin()', async () => {
  const { cluster, net } = fakeCluster('postgres', 2);
  const pool = createPgPool(cluster, { createPool: (cfg, alias) => new FakePgPool(net, alias, cfg) });
  cluster.pinAll('default');
  await pool.query('SELECT 1');
  assert.equal(net.last().alias, 'default');
  assert.equal(cluster.route('SELECT 1').reason, 'pinned');
  const client = await pool.connect();
  await client.query('BEGIN');
  await client.query('SELECT 1');
  assert.equal(net.last().alias, 'default');
  await client.query('ROLLBACK');
  client.release();
  cluster.unpin();
  await pool.query('SELECT 1');
  assert.match(net.last().alias, /^replica/);
  await pool.end();
});

test('scopes reach statements run through a routed pool', async () => {
  const { cluster, net } = fakeCluster('postgres', 2);
  const pool = createPgPool(cluster, { createPool: (cfg, alias) => new FakePgPool(net, alias, cfg) });
  await cluster.primary(() => pool.query('SELECT 1'));
  assert.equal(net.last().alias, 'default');
  await cluster.using('replica2', () => pool.query('SELECT 1'));
  assert.equal(net.last().alias, 'replica2');
  await cluster.replica(() => pool.query('DELETE FROM t'));
  assert.equal(net.last().alias, 'default');
  await pool.end();
});

test('a lazy thenable returned into a scope (Drizzle query builders) starts inside the scope', async () => {
  const c = createCluster({ databases });
  const lazy = {
    then(ok: (v: string) => void) {
      ok(c.route('SELECT 1').node.alias);
    },
  };
  assert.equal(await c.primary(() => lazy), 'default');
  assert.equal(await c.using('replica2', () => lazy), 'replica2');
});
