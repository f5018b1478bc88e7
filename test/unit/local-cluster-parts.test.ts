// Pure parts of local clusters: CLI durations, PostgreSQL LSN arithmetic, port probing.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { parseDurationMillis } from '../../src/cli/cluster.js';
import { isDbRouterError } from '../../src/errors.js';
import { findPortBlock, isPortFree } from '../../src/local/ports.js';
import { lsnToBigInt } from '../../src/local/postgres-engine.js';

test('lag --delay durations', () => {
  assert.equal(parseDurationMillis('2s'), 2000);
  assert.equal(parseDurationMillis('1.5s'), 1500);
  assert.equal(parseDurationMillis('500ms'), 500);
  assert.equal(parseDurationMillis('1m'), 60_000);
  assert.equal(parseDurationMillis('0'), 0);
  assert.throws(() => parseDurationMillis('soon'), { code: 'USAGE' });
  assert.throws(() => parseDurationMillis('-1s'), { code: 'USAGE' });
});

test('LSNs compare as 64-bit positions', () => {
  assert.equal(lsnToBigInt('0/3000148'), 0x3000148n);
  assert.equal(lsnToBigInt('1/0') - lsnToBigInt('0/FFFFFFFF'), 1n);
});

test('a taken base port is refused with PORT_IN_USE naming it; a free block is found below the ephemeral range', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  try {
    assert.equal(await isPortFree(address.port), false);
    await assert.rejects(findPortBlock(3, address.port - 2), (e: unknown) => {
      assert.ok(isDbRouterError(e, 'PORT_IN_USE'));
      assert.match(e.message, new RegExp(`port ${address.port} `));
      return true;
    });
  } finally {
    server.close();
  }
  const base = await findPortBlock(3);
  assert.ok(base >= 20_000 && base + 2 < 32_768, String(base));
  for (let port = base; port < base + 3; port++) assert.equal(await isPortFree(port), true);
});
