import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { createCluster, isDbRouterError, type ClusterConfig } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';

const SECRET = 'hunter2-secret';

function rejects(config: unknown, pattern: RegExp): void {
  assert.throws(() => createCluster(config as ClusterConfig), (e) => {
    assert.ok(isDbRouterError(e, 'CONFIG_INVALID'), String(e));
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes(SECRET), `password leaked: ${e.message}`);
    return true;
  });
}

test('the configuration catalogue: each mistake names the key and what to write instead', () => {
  const url = `postgres://app:${SECRET}@db1:5432/shop`;
  rejects({}, /databases must name at least one database/);
  rejects({ databases: {} }, /databases must name at least one/);
  rejects({ databases: { default: url }, router: [] }, /Unknown key "router".*did you mean "routers"/);
  rejects({ databases: { default: { url, hostname: 'x' } } }, /Unknown key "hostname" in databases\.default; write host instead/);
  rejects({ databases: { default: { url, rol: 'primary' } } }, /"rol".*did you mean "role"/);
  rejects({ databases: { default: { url, role: 'master' } } }, /databases\.default\.role must be 'primary' or 'replica'; write role: 'primary'/);
  rejects({ databases: { default: `postgres://app:${SECRET}@db1:notaport/shop` } }, /databases\.default is not a valid URL; write it as postgres:\/\//);
  rejects({ databases: { default: `redis://app:${SECRET}@db1/0` } }, /scheme "redis".*postgres:\/\//);
  rejects({ databases: { default: url, replica1: `mysql://app:${SECRET}@db2/shop` } }, /databases\.replica1 is a mysql database but databases\.default is postgres; one cluster is one engine/);
  rejects({ databases: { default: { url, role: 'replica' }, r: { host: 'db2', role: 'replica' } } }, /no primary/);
  rejects({ databases: { default: url, replica1: { url: `postgres://app:${SECRET}@DB1:5432/shop`, role: 'replica' } } }, /replica1 and databases\.default are the same node \(DB1:5432\/shop\)/);
  rejects({ databases: { default: url, replica1: { host: 'db2', weight: 0 } } }, /replica1\.weight must be a positive number/);
  rejects({ databases: { default: url, replica1: { host: 'db2', weight: '2' } } }, /weight must be a positive number/);
  rejects({ databases: { default: url, replica1: { host: 'db2', pool: { maxConnections: 3 } } } }, /Unknown key "maxConnections" in databases\.replica1\.pool/);
  rejects({ databases: { default: { host: 'db1' } } }, /engine is unknown; add engine: 'postgres'/);
  rejects({ databases: { default: 42 } }, /databases\.default must be a URL string or an object/);
  rejects({ databases: { default: url }, engine: 'mariadb' }, /engine must be 'postgres' or 'mysql' \(MariaDB is 'mysql'\)/);
});

test('a replica takes missing settings from the primary; engines come from the scheme', () => {
  const c = createCluster({
    databases: {
      default: { url: `postgresql://app:${SECRET}@db1:6000/shop`, role: 'primary' },
      replica1: { host: 'db2', role: 'replica' },
      replica2: { port: 6001, role: 'replica' },
    },
  });
  assert.equal(c.engine, 'postgres');
  assert.deepEqual(c.describe().map((d) => d.url), ['postgresql://app:***@db1:6000/shop', 'postgres://app:***@db2:6000/shop', 'postgres://app:***@db1:6001/shop']);
  const m = createCluster({ databases: { default: `mariadb://u:${SECRET}@m1/app` }, engine: 'mysql' });
  assert.equal(m.engine, 'mysql');
  assert.equal(m.describe()[0]!.url, 'mariadb://u:***@m1:3306/app');
  assert.equal(m.isReady, false, 'role left out: asked of the server at ready()');
});

test('passwords never appear in inspect, JSON, errors or describe()', () => {
  const c = createCluster({ databases: { default: { url: `postgres://app:${SECRET}@db1/shop`, role: 'primary' }, r: { host: 'db2', password: SECRET, role: 'replica' } } });
  for (const text of [inspect(c, { depth: 10, showHidden: true }), JSON.stringify(c), JSON.stringify(c.describe()), inspect(createPgPool(c), { depth: 10 })]) {
    assert.ok(!text.includes(SECRET), text);
  }
  assert.throws(() => createMysqlPool(c), (e) => isDbRouterError(e, 'ENGINE_MISMATCH'));
});

test('roles left out are asked of the server at ready(); failures name the alias, not the password', async () => {
  const asked: string[] = [];
  const c = createCluster({
    databases: { default: `postgres://app:${SECRET}@db1/shop`, replica1: { host: 'db2' } },
    health: false,
    discoverRole: (alias) => {
      asked.push(alias);
      return Promise.resolve(alias === 'default' ? 'primary' : 'replica');
    },
  });
  assert.throws(() => c.route('SELECT 1'), (e) => isDbRouterError(e, 'NOT_READY'));
  await c.ready();
  assert.deepEqual(asked.sort(), ['default', 'replica1']);
  assert.equal(c.route('SELECT 1').node.alias, 'replica1');

  let fail = true;
  const d = createCluster({
    databases: { default: `postgres://app:${SECRET}@db1/shop` },
    // Without health checks a node that cannot say its role fails ready() (with them it is down until it answers: health-default.test.ts).
    health: false,
    discoverRole: () => (fail ? Promise.reject(new Error('connect ECONNREFUSED')) : Promise.resolve('primary')),
  });
  await assert.rejects(d.ready(), (e) => isDbRouterError(e, 'NOT_READY') && /databases\.default/.test(e.message) && !e.message.includes(SECRET));
  fail = false;
  await d.ready();
  assert.equal(d.isReady, true, 'ready() is retried after a failure');

  const none = createCluster({ databases: { a: 'postgres://x@h1/db', b: 'postgres://x@h2/db' }, health: false, discoverRole: () => Promise.resolve('replica') });
  await assert.rejects(none.ready(), (e) => isDbRouterError(e, 'CONFIG_INVALID') && /No database in the cluster is a primary/.test(e.message));
});
