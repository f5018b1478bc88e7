// The consistency layer without servers: options and levels, statement hints, and the routing it
// decides over fake pg pools (which answer every statement with the alias that ran it — so a
// position they "report" never parses, and the answer must then be the primary, never a replica).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkLevel, resolveConsistency, statementLevel } from '../../src/consistency/levels.js';
import { expressConsistency } from '../../src/http/express.js';
import { isDbRouterError } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { FakePgPool, fakeCluster } from './routing-fakes.js';

function setup(consistency: unknown) {
  const { cluster, net } = fakeCluster('postgres', 2, { consistency: consistency as 'session' });
  const pool = createPgPool(cluster, { createPool: (config, alias) => new FakePgPool(net, alias, config) });
  return { cluster, net, pool };
}

test('options: defaults, levels, and mistakes named with what to write instead', () => {
  const r = resolveConsistency(undefined);
  assert.deepEqual([r.level, r.onBehind, r.waitMillis, r.tokenMaxAgeMillis], ['session', 'primary', 500, 600_000]);
  assert.deepEqual(resolveConsistency({ maxStalenessMillis: 250 }).level, { maxStalenessMillis: 250 });
  assert.equal(resolveConsistency('eventual').level, 'eventual');
  const invalid = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => isDbRouterError(e, 'CONFIG_INVALID') && re.test(e.message));
  invalid(() => checkLevel('bounded', 'x'), /maxStalenessMillis: 500/);
  invalid(() => checkLevel('causal', 'x'), /'strong', 'session', 'eventual'/);
  invalid(() => resolveConsistency({ onBehind: 'retry' } as never), /'primary' or 'wait'/);
  invalid(() => resolveConsistency({ waitMilis: 3 } as never), /Unknown key "waitMilis"/);
  invalid(() => resolveConsistency({ waitMillis: -1 }), /0 or more/);
});

test('statement hints: a leading comment only, cheap when absent', () => {
  assert.equal(statementLevel('/* dbrouter:strong */ SELECT 1'), 'strong');
  assert.equal(statementLevel('  /*dbrouter:eventual*/SELECT 1'), 'eventual');
  assert.deepEqual(statementLevel('/* dbrouter:bounded=500 */ SELECT 1'), { maxStalenessMillis: 500 });
  assert.equal(statementLevel('SELECT 1 /* dbrouter:strong */'), undefined);
  assert.equal(statementLevel('/* other */ SELECT 1'), undefined);
});

test('session: reads go to replicas until the process writes; then, with no position to compare, to the primary', async () => {
  const { cluster, net, pool } = setup(undefined);
  await pool.query('SELECT 1');
  assert.match(net.last().alias, /^replica/);
  await pool.query('INSERT INTO t VALUES (1)');
  net.ran = [];
  await pool.query('SELECT 2');
  assert.equal(net.where('SELECT 2')[0], 'default', 'an unparsable position is never a reason for a stale read');
  assert.equal(cluster.queries.length, 0);
  assert.equal(cluster.consistencyStats().primaryFallbacks, 1);
  assert.ok(net.ran.some((r) => /pg_current_wal_lsn/.test(r.sql)), 'the position was asked once the read needed it');
  // Another unit of work has not written: its reads stay on replicas.
  await cluster.withToken(undefined, () => pool.query('SELECT 3'));
  assert.match(net.where('SELECT 3')[0]!, /^replica/);
});

test('strong sends reads to the primary with reason consistency-strong; eventual and replica scopes ignore writes', async () => {
  const { cluster, net, pool } = setup({ level: 'strong' });
  const reasons: string[] = [];
  cluster.on('route', (e: { reason: string }) => reasons.push(e.reason));
  await pool.query('SELECT 1');
  assert.equal(net.last().alias, 'default');
  assert.deepEqual(reasons, ['consistency-strong']);
  await cluster.consistency('eventual', () => pool.query('SELECT 2'));
  assert.match(net.last().alias, /^replica/);
  await pool.query('/* dbrouter:eventual */ SELECT 3');
  assert.match(net.last().alias, /^replica/);
  await cluster.replica(() => pool.query('SELECT 4'));
  assert.match(net.last().alias, /^replica/);
});

test('tokens need a secret; middleware refuses to start without one unless development', async () => {
  const { cluster, pool } = setup(undefined);
  await pool.query('INSERT INTO t VALUES (1)');
  await assert.rejects(cluster.consistencyToken(), (e: unknown) => isDbRouterError(e, 'SECRET_MISSING'));
  assert.throws(() => expressConsistency({ cluster }), (e: unknown) => isDbRouterError(e, 'SECRET_MISSING'));
  assert.throws(() => expressConsistency({ cluster, secret: 'short' }), (e: unknown) => isDbRouterError(e, 'CONFIG_INVALID'));
  assert.equal(expressConsistency({ cluster, development: true }).name, 'dbrouterConsistency');
  // A bad token never throws: fn runs, the token is counted.
  const { cluster: signed } = setup({ secret: 'x'.repeat(32) });
  assert.equal(signed.withToken('garbage', () => 42), 42);
  assert.equal(signed.consistencyStats().tokens.rejected.malformed, 1);
});
