// Run under scripts/hide-drivers.cjs by test/integration/driver-missing.test.ts: each public
// entry point that needs a driver, given none, and the error it gives. Prints one JSON line.
import { createCluster, watchCluster } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';

async function outcome(fn: () => unknown): Promise<string> {
  const started = performance.now();
  try {
    await fn();
    return 'no error';
  } catch (e) {
    const err = e as { code?: string; message?: string };
    return `${err.code ?? 'untyped'} in ${Math.round(performance.now() - started)} ms: ${err.message ?? String(e)}`;
  }
}

// Nothing listens on port 9: were the driver present, these would be connection errors instead.
const pg = { default: 'postgres://app:pw@127.0.0.1:9/shop', replica1: 'postgres://app:pw@127.0.0.1:10/shop' };
const pgKnown = { default: { url: pg.default, role: 'primary' as const }, replica1: { url: pg.replica1, role: 'replica' as const } };
const my = { default: { url: 'mysql://app:pw@127.0.0.1:9/shop', role: 'primary' as const } };

const results = {
  createPgPool: await outcome(() => createPgPool(createCluster({ databases: pgKnown }))),
  createMysqlPool: await outcome(() => createMysqlPool(createCluster({ databases: my }))),
  ready: await outcome(() => createCluster({ databases: pg }).ready()),
  watchCluster: await outcome(() => watchCluster(createCluster({ databases: pgKnown }), { checkTimeoutMillis: 5000 }).start()),
};
process.stdout.write(`${JSON.stringify(results)}\n`);
