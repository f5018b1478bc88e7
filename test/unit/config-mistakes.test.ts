// Issue 9 item 8: every configuration mistake fails at construction with CONFIG_INVALID naming the
// key and what to write instead — not later, not as a TypeError or URIError, never showing a secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCluster, HealthMonitor, isDbRouterError, primaryReplica, byTable, watchCluster, type ClusterConfig } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import { expressConsistency } from '../../src/http/express.js';
import { createSessionStore } from '../../src/http/session-store.js';
import { startCluster } from '../../src/local/index.js';
import { dashboard } from '../../src/dashboard/index.js';

const PASSWORD = 'hunter2-secret';
const URL = `postgres://app:${PASSWORD}@db1:5432/shop`;
const databases = { default: { url: URL, role: 'primary' as const }, replica1: { host: 'db2', role: 'replica' as const } };

function invalid(fn: () => unknown, pattern: RegExp, code = 'CONFIG_INVALID'): void {
  assert.throws(fn, (e) => {
    assert.ok(isDbRouterError(e), `not a DbRouterError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes(PASSWORD), `secret leaked: ${e.message}`);
    assert.ok(!/\?\./.test(e.message), `doubled full stop: ${e.message}`);
    return true;
  });
}

const cluster = (extra: Partial<ClusterConfig>): unknown => createCluster({ databases, ...extra });

test('the examples of issue 9: each is CONFIG_INVALID at construction, naming the key and what to write', () => {
  invalid(() => cluster({ consistency: { secret: 'short' } }), /consistency\.secret is 5 bytes long; a secret needs 16 bytes or more/);
  invalid(() => cluster({ consistency: { secret: 42 as never } }), /consistency\.secret must be a string or Buffer of 16 bytes or more.*not a number/);
  invalid(() => cluster({ consistency: { secret: [] } }), /consistency\.secret is an empty array/);
  invalid(() => cluster({ consistency: { secret: [PASSWORD + PASSWORD, 'tiny'] } }), /consistency\.secret is 4 bytes long/);
  invalid(() => cluster({ consistency: { clusterId: 42 as never } }), /consistency\.clusterId must be a non-empty string.*not 42/);
  invalid(() => cluster({ consistency: { clusterId: 'a|b' } }), /clusterId must be a non-empty string without "\|"/);
  invalid(() => cluster({ writeFunctions: 'audit' as never }), /writeFunctions must be an array of function names.*write writeFunctions: \["audit"\]/);
  invalid(() => cluster({ writeFunctions: ['audit()'] }), /writeFunctions\[0\] must be a function name such as "audit_log"/);
  invalid(() => cluster({ routers: [null as never] }), /routers\[0\] is null; each router is an object/);
  invalid(() => cluster({ routers: [primaryReplica as never] }), /routers\[0\] is a function.*a factory must be called/);
  invalid(() => cluster({ routers: [{ dbForRead: 'replica1' } as never] }), /routers\[0\]\.dbForRead must be a function/);
  invalid(() => cluster({ routers: [{ name: 'empty' }] }), /routers\[0\] has none of the router methods/);
  invalid(() => createCluster({ databases: { default: { url: URL, pool: { max: 1.5 } } } }), /databases\.default\.pool\.max must be a whole number 1 or more \(such as 10\), not 1\.5/);
  invalid(() => createCluster({ databases: { default: { url: URL, pool: { idleTimeoutMillis: -1 } } } }), /pool\.idleTimeoutMillis must be a number of milliseconds/);
  invalid(() => createCluster({ databases: { default: { url: URL, ssl: 'yes' as never } } }), /databases\.default\.ssl must be true, false or the driver's TLS options.*sslmode=require/);
  invalid(() => cluster({ debug: { maxEntries: -5 } }), /debug\.maxEntries must be a whole number 0 or more/);
  invalid(() => cluster({ debug: { max: 5 } as never }), /Unknown key "max" in debug; did you mean "maxEntries"\?$/);
  invalid(() => cluster({ classifierCacheSize: 'big' as never }), /classifierCacheSize must be a whole number/);
  invalid(() => createCluster({ databases: { '': URL } }), /databases has an empty alias ""; name each database/);
  invalid(() => createCluster({ databases: { default: 'postgres://app:pa%zzss@db1/shop' } }), /databases\.default has a bad % escape in its password; write a literal % as %25/);
  invalid(() => createCluster({ databases: { default: 'postgres://app@db1/sh%op' } }), /bad % escape in its database name/);
  invalid(() => createCluster({ databases: { default: { url: URL, user: 7 as never } } }), /databases\.default\.user must be a string/);
  invalid(() => cluster({ discoverRole: 'pg' as never }), /discoverRole must be a function/);
  invalid(() => primaryReplica({ strategy: 'roundrobin' as never }), /primaryReplica\(\) strategy must be one of 'random', 'round-robin', 'weighted', 'least-busy', not "roundrobin"\. did you mean "round-robin"\?/);
  invalid(() => primaryReplica({ stategy: 'random' } as never), /Unknown key "stategy" in primaryReplica\(\) options; did you mean "strategy"\?/);
  invalid(() => byTable({ audit_: 3 } as never), /byTable\(\) map\.audit_ must name an alias/);
});

test('watchCluster and HealthMonitor refuse unknown keys and wrong values at construction', () => {
  const c = createCluster({ databases });
  invalid(() => watchCluster(c, { maxReplicationLag: 2000 } as never), /Unknown key "maxReplicationLag" in watchCluster\(\) options; write maxReplicationLagMillis instead/);
  invalid(() => watchCluster(c, { checkIntervalMillis: '1s' } as never), /watchCluster\(\) options\.checkIntervalMillis must be a number of milliseconds.*not "1s"/);
  invalid(() => watchCluster(c, { failuresBeforeDown: 1.5 }), /failuresBeforeDown must be a whole number 1 or more/);
  invalid(() => watchCluster(c, { monitor: { user: '' } }), /monitor\.user must be a non-empty string/);
  invalid(() => watchCluster(c, { onPrimaryLost: true } as never), /onPrimaryLost must be a function/);
  invalid(() => new HealthMonitor({ nodes: [], prober: {} as never, checkEvery: 5 } as never), /Unknown key "checkEvery"/);
  // A valid configuration still constructs.
  assert.ok(watchCluster(c, { maxReplicationLagMillis: 2000, failoverTimeoutMillis: 5000, monitor: { user: 'mon', password: 'x' } }));
});

test('pools, HTTP integrations, the session store, the dashboard and startCluster check their options', async () => {
  const c = createCluster({ databases });
  invalid(() => createPgPool(undefined as never), /createPgPool\(\) takes a cluster/);
  invalid(() => createPgPool(c, { pinnned: 'default' } as never), /Unknown key "pinnned".*did you mean "pinned"\?/);
  invalid(() => createMysqlPool({} as never), /createMysqlPool\(\) takes a cluster/);
  invalid(() => expressConsistency({ cluster: c, secret: 'short' }), /expressConsistency\(\) secret is 5 bytes long/);
  invalid(() => expressConsistency({ cluster: c, development: true, cookie: { sameSite: 'Lax' } } as never), /cookie\.sameSite must be one of 'lax', 'strict', 'none', not "Lax"/);
  invalid(() => expressConsistency({ cluster: c, development: true, maxAge: 5 } as never), /Unknown key "maxAge".*write maxAgeMillis instead/);
  invalid(() => expressConsistency({ cluster: c, development: true, headerName: 'X Token' }), /headerName may hold only letters/);
  invalid(() => createSessionStore({ cluster: c, ttl: 5 } as never), /Unknown key "ttl".*write ttlMillis instead/);
  invalid(() => createSessionStore({} as never), /createSessionStore\(\) needs the cluster/);
  invalid(() => dashboard(c, { authorize: () => true, sampleIntervalMillis: 0 }), /sampleIntervalMillis must be a number of milliseconds greater than or equal to 1/);
  await assert.rejects(startCluster({ engine: 'postgress' as never }), (e) => isDbRouterError(e, 'CONFIG_INVALID') && /engine must be one of 'postgres', 'mariadb'.*did you mean "postgres"\?/.test(e.message));
  await assert.rejects(startCluster({ engine: 'postgres', replica: 1 } as never), (e) => isDbRouterError(e, 'CONFIG_INVALID') && /did you mean "replicas"\?/.test(e.message));
});

test('scopes and withToken given something other than a function: SCOPE_INVALID, not a TypeError', () => {
  const c = createCluster({ databases, consistency: { secret: PASSWORD + PASSWORD } });
  invalid(() => c.withToken('v1.x.y', 'notAFunction' as never), /withToken\(token, fn\) runs fn: pass a function/, 'SCOPE_INVALID');
  invalid(() => c.primary(undefined as never), /A scope runs a function/, 'SCOPE_INVALID');
  invalid(() => c.using('replica1', 5 as never), /A scope runs a function/, 'SCOPE_INVALID');
  invalid(() => c.using('replica2', () => 1), /no database "replica2" in this cluster; did you mean "replica1"\?$/, 'UNKNOWN_ALIAS');
  // Valid secrets and ids are taken, and a token round-trips.
  assert.equal(c.withToken(undefined, () => 7), 7);
});
