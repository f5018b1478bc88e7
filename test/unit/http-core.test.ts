// The framework-independent part of the HTTP integrations, without servers: where the token is
// read from, which level a request gets, bad cookies and headers, and the cookie it sends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpConsistency } from '../../src/http/core.js';
import { isDbRouterError } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { FakePgPool, fakeCluster } from './routing-fakes.js';

const SECRET = 'x'.repeat(32);

function setup() {
  const { cluster, net } = fakeCluster('postgres', 2, { consistency: { secret: SECRET } });
  const pool = createPgPool(cluster, { createPool: (config, alias) => new FakePgPool(net, alias, config) });
  return { cluster, net, pool, http: new HttpConsistency({ cluster, secret: SECRET }, 'test') };
}

test('secret: required unless development; too short is refused', () => {
  const { cluster } = fakeCluster('postgres', 1);
  assert.throws(() => new HttpConsistency({ cluster }, 'x'), (e: unknown) => isDbRouterError(e, 'SECRET_MISSING'));
  assert.throws(() => new HttpConsistency({ cluster, secret: 'short' }, 'x'), (e: unknown) => isDbRouterError(e, 'CONFIG_INVALID'));
  assert.ok(new HttpConsistency({ cluster, development: true }, 'x'));
  assert.throws(() => new HttpConsistency({} as never, 'x'), (e: unknown) => isDbRouterError(e, 'CONFIG_INVALID'));
});

test('levels: safe methods at session, others strong, route() and a per-route level win', async () => {
  const { net, pool, http } = setup();
  const where = async (unit: ReturnType<HttpConsistency['start']>) => {
    await unit.run(() => pool.query('SELECT 1'));
    return net.last().alias;
  };
  assert.match(await where(http.start('GET', '/', undefined, undefined, undefined)), /^replica/);
  assert.equal(await where(http.start('POST', '/', undefined, undefined, undefined)), 'default');
  assert.match(await where(http.start('POST', '/', undefined, undefined, undefined, 'eventual')), /^replica/);
  const { cluster: c2, net: n2, pool: p2 } = setup();
  const routed = new HttpConsistency({ cluster: c2, secret: SECRET, route: ({ path }) => (path.startsWith('/admin') ? 'strong' : undefined) }, 'x');
  await routed.start('GET', '/admin/users', undefined, undefined, undefined).run(() => p2.query('SELECT 1'));
  assert.equal(n2.last().alias, 'default');
  await routed.start('GET', '/users', undefined, undefined, undefined).run(() => p2.query('SELECT 1'));
  assert.match(n2.last().alias, /^replica/);
});

test('bad cookies and headers are ignored and counted; the header wins over the cookie', async () => {
  const { cluster, http, pool } = setup();
  // A unit that wrote has a token to send; the fakes answer the position query with an alias, which is fine for signing.
  const unit = http.start('POST', '/', undefined, undefined, undefined);
  await unit.run(() => pool.query('INSERT INTO t VALUES (1)'));
  const out = await unit.outcome();
  assert.ok(out !== undefined);
  assert.match(out.setCookie!, /^dbrouter_ryw=v1\.[^;]+; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax$/);
  http.start('GET', '/', 'dbrouter_ryw=%E0%A4%A; other=1', undefined, undefined);
  http.start('GET', '/', `dbrouter_ryw=${out.token}`, 'garbage', undefined);
  http.start('GET', '/', `dbrouter_ryw=${out.token.slice(0, -4)}AAAA`, undefined, undefined);
  http.start('GET', '/', `dbrouter_ryw=${'a'.repeat(2000)}`, undefined, undefined);
  http.start('GET', '/', undefined, out.token, undefined);
  const { tokens } = cluster.consistencyStats();
  assert.deepEqual(tokens.rejected, { malformed: 2, oversized: 1, tampered: 1, expired: 0, foreign: 0 });
  assert.equal(tokens.accepted, 1);
  const quiet = http.start('GET', '/', undefined, undefined, undefined);
  await quiet.run(() => pool.query('SELECT 1'));
  assert.equal(await quiet.outcome(), undefined, 'no write, no token, no cookie');
});
