import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenCodec } from '../../src/consistency/token.js';
import { isDbRouterError } from '../../src/errors.js';

const secret = 'a-test-secret-of-32-bytes-length!';
let clock = 1_700_000_000_000;
const codec = new TokenCodec({ secret, clusterId: 'c1', now: () => clock });

test('a token round-trips its position and is compact', () => {
  const t = codec.encode('0/3000148');
  assert.ok(t.length < 80, `token is ${t.length} chars`);
  const d = codec.decode(t);
  assert.deepEqual(d, { ok: true, position: '0/3000148', issuedAtMillis: Math.floor(clock / 1000) * 1000 });
});

test('a tampered token is refused', () => {
  const t = codec.encode('0-1-42');
  const [v, payload, sig] = t.split('.') as [string, string, string];
  const forged = Buffer.from('c1|0-1-999|' + Math.floor(clock / 1000)).toString('base64url');
  assert.deepEqual(codec.decode(`${v}.${forged}.${sig}`), { ok: false, reason: 'tampered' });
  const flipped = sig.slice(0, -2) + (sig.endsWith('AA') ? 'BA' : 'AA');
  assert.deepEqual(codec.decode(`${v}.${payload}.${flipped}`), { ok: false, reason: 'tampered' });
  const other = new TokenCodec({ secret: 'another-secret-of-enough-length', clusterId: 'c1', now: () => clock });
  assert.deepEqual(other.decode(t), { ok: false, reason: 'tampered' });
});

test('expired, oversized, malformed and foreign tokens are refused', () => {
  const t = codec.encode('0/1');
  clock += 11 * 60_000;
  assert.deepEqual(codec.decode(t), { ok: false, reason: 'expired' });
  assert.deepEqual(codec.decode('v1.' + 'A'.repeat(600) + '.x'), { ok: false, reason: 'oversized' });
  for (const bad of [undefined, 42, '', 'v1', 'v2.a.b', 'v1.a.b', 'v1..']) {
    assert.deepEqual(codec.decode(bad), { ok: false, reason: 'malformed' }, String(bad));
  }
  assert.deepEqual(codec.decode('v1.%%%.AAAAAAAAAAAAAAAAAAAAAA'), { ok: false, reason: 'tampered' }, 'unsigned garbage');
  const foreign = new TokenCodec({ secret, clusterId: 'c2', now: () => clock });
  assert.deepEqual(codec.decode(foreign.encode('0/1')), { ok: false, reason: 'foreign' });
});

test('secrets rotate: the first signs, every one verifies', () => {
  const oldCodec = new TokenCodec({ secret: 'the-old-secret-of-enough-length', clusterId: 'c1', now: () => clock });
  const rotated = new TokenCodec({ secret: [secret, 'the-old-secret-of-enough-length'], clusterId: 'c1', now: () => clock });
  assert.equal(rotated.decode(oldCodec.encode('0/9')).ok, true);
  assert.equal(codec.decode(rotated.encode('0/9')).ok, true);
});

test('a missing or short secret is refused at construction', () => {
  assert.throws(() => new TokenCodec({ secret: '', clusterId: 'c1' }), (e) => isDbRouterError(e, 'SECRET_MISSING'));
  assert.throws(() => new TokenCodec({ secret: 'short', clusterId: 'c1' }), (e) => isDbRouterError(e, 'SECRET_MISSING'));
});
