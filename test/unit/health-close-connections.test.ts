// Issue 9 follow-up: a node that fails its health checks loses its pooled connections (so a
// statement stuck on a silent network fails at once); a lagging, suspect or login-refusing node
// keeps them. Fake pg pools hand out clients whose sockets record destroy(); a fake prober and clock
// drive the monitor. The real-server side is test/integration/silent-node-*.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { QueryResult } from 'pg';
import { createCluster } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import { createMariadbPool } from '../../src/engines/mysql/mariadb-connector.js';
import { pgClientConfig } from '../../src/engines/postgres/config.js';
import { mysqlPoolConfig } from '../../src/engines/mysql/config.js';
import { DEFAULT_KEEPALIVE_DELAY_MILLIS } from '../../src/engines/bounds.js';
import { cutForDownNode } from '../../src/engines/engine.js';
import { MysqlEngine } from '../../src/engines/mysql/engine.js';
import { PostgresEngine } from '../../src/engines/postgres/engine.js';
import { watchCluster } from '../../src/health/cluster-health.js';
import { FakeClock, FakeProber, primary, replica } from './health-fakes.js';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
const loginRefused = () => Object.assign(new Error('password authentication failed for user "app"'), { code: '28P01', severity: 'FATAL' });
const tooMany = () => Object.assign(new Error('sorry, too many clients already'), { code: '53300', severity: 'FATAL' });

class FakeSocket {
  destroyed = false;
  destroy(): void {
    this.destroyed = true;
  }
}

/** A pg-pool stand-in that connects `size` clients up front, as pg-pool reports them ('connect'). */
class FakePool extends EventEmitter {
  totalCount = 0;
  idleCount = 0;
  waitingCount = 0;
  readonly sockets: FakeSocket[] = [];
  constructor(size: number) {
    super();
    queueMicrotask(() => {
      for (let i = 0; i < size; i++) {
        const stream = new FakeSocket();
        this.sockets.push(stream);
        this.emit('connect', { connection: { stream }, query: () => Promise.resolve(), release: () => undefined, on: () => undefined, removeListener: () => undefined });
      }
    });
  }
  query(): Promise<QueryResult> {
    return Promise.resolve({ rows: [], command: 'SELECT', rowCount: 0, oid: 0, fields: [] });
  }
  connect(): Promise<never> {
    return Promise.reject(new Error('not used'));
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
}

test('a node that fails its checks loses its pooled connections; lagging, suspect, login-refusing and busy nodes keep theirs', async () => {
  const cluster = createCluster({
    databases: {
      default: { url: 'postgres://app@127.0.0.1:5000/app', role: 'primary' },
      replica1: { url: 'postgres://app@127.0.0.1:5001/app', role: 'replica' },
      replica2: { url: 'postgres://app@127.0.0.1:5002/app', role: 'replica' },
    },
  });
  const pools = new Map<string, FakePool>();
  const pool = createPgPool(cluster, { createPool: (_c, alias) => {
    const p = new FakePool(3);
    pools.set(alias, p);
    return p;
  } });
  const clock = new FakeClock();
  const prober = new FakeProber();
  prober.behaviour.set('default', primary());
  prober.behaviour.set('replica1', replica());
  prober.behaviour.set('replica2', replica());
  const health = watchCluster(cluster, { prober, clock, checkIntervalMillis: 1000, checkTimeoutMillis: 500, maxReplicationLagMillis: 4000 });
  await health.start();
  for (let i = 0; i < 6; i++) await pool.query('SELECT 1'); // opens the replicas' pools
  await pool.query('INSERT INTO t VALUES (1)'); // and the primary's
  await new Promise((r) => setImmediate(r));
  const destroyed = (alias: string) => pools.get(alias)!.sockets.filter((s) => s.destroyed).length;
  assert.deepEqual([...pools.keys()].sort(), ['default', 'replica1', 'replica2']);

  // Lagging: out of the reads, connections kept (a long query there runs on).
  prober.behaviour.set('replica1', replica('90', 6000));
  await clock.advance(1000);
  assert.equal(cluster.nodeState('replica1'), 'lagging');
  // Suspect after a connection error, then a good check: kept.
  health.monitor!.markSuspect('replica1');
  await clock.advance(0);
  // Refusing the monitor's login: down for routing, but the server answers; kept.
  prober.behaviour.set('replica1', loginRefused());
  await clock.advance(3000);
  assert.equal(cluster.nodeState('replica1'), 'down');
  // Too many connections: the server answers, it is busy, not cut off; kept.
  prober.behaviour.set('replica1', replica());
  await clock.advance(3000);
  assert.equal(cluster.nodeState('replica1'), 'up');
  prober.behaviour.set('replica1', tooMany());
  await clock.advance(3000);
  assert.equal(cluster.nodeState('replica1'), 'down');
  assert.equal(destroyed('replica1'), 0);

  // Unreachable: down after failuresBeforeDown checks, and every connection to it destroyed, once.
  prober.behaviour.set('replica2', refused());
  await clock.advance(1000);
  assert.equal(destroyed('replica2'), 0, 'one failed check is not enough');
  await clock.advance(1000);
  assert.equal(cluster.nodeState('replica2'), 'down');
  assert.equal(destroyed('replica2'), 3);
  prober.behaviour.set('default', 'hang');
  await clock.advance(3000);
  assert.equal(destroyed('default'), 3, 'a check that times out counts as unreachable');
  assert.equal(destroyed('replica1'), 0);
  assert.equal(cluster.closeNodeConnections('replica2', 'again'), 0, 'nothing left to destroy');
  await health.stop();
});

test('TCP keepalive is on by default for every driver, with a 10 s first probe, and driverOptions override it', () => {
  const connection = { host: 'h', port: 1, user: 'u', database: 'd', ssl: undefined, pool: {}, driverOptions: {} };
  assert.equal(DEFAULT_KEEPALIVE_DELAY_MILLIS, 10_000);
  const pgConfig = pgClientConfig(connection);
  assert.equal(pgConfig.keepAlive, true);
  assert.equal(pgConfig.keepAliveInitialDelayMillis, 10_000);
  assert.equal(pgClientConfig({ ...connection, driverOptions: { keepAlive: false } }).keepAlive, false);
  const myConfig = mysqlPoolConfig(connection);
  assert.equal(myConfig.enableKeepAlive, true);
  assert.equal(myConfig.keepAliveInitialDelay, 10_000);
  assert.equal(mysqlPoolConfig({ ...connection, driverOptions: { keepAliveInitialDelay: 30_000 } }).keepAliveInitialDelay, 30_000);

  const cluster = createCluster({ databases: { default: { url: 'mysql://app@127.0.0.1:3306/app', role: 'primary' } }, health: false });
  const seen: Record<string, unknown>[] = [];
  const fakeMariadb = { query: () => Promise.resolve([]), execute: () => Promise.resolve([]), getConnection: () => Promise.reject(new Error('unused')), end: () => Promise.resolve() };
  const mariadb = createMariadbPool(cluster, { createPool: (config) => (seen.push(config), fakeMariadb) });
  const fakeMysql2 = { query: () => Promise.resolve([[], []] as [unknown, unknown]), execute: () => Promise.resolve([[], []] as [unknown, unknown]), getConnection: () => Promise.reject(new Error('unused')), end: () => Promise.resolve() };
  const mysql2 = createMysqlPool(cluster, { createPool: (config) => (seen.push(config as Record<string, unknown>), fakeMysql2) });
  return Promise.all([mariadb.query('SELECT 1'), mysql2.query('SELECT 1')]).then(() => {
    assert.equal(seen[0]!.keepAliveDelay, 10_000, 'mariadb connector');
    assert.equal(seen[1]!.enableKeepAlive, true, 'mysql2');
  });
});

test('how the engines read a cut for a down node and the mariadb connector\'s connection errors', () => {
  const my = new MysqlEngine();
  const pgEngine = new PostgresEngine();
  const cut = cutForDownNode('replica1', 'connect ETIMEDOUT');
  assert.match(cut.message, /dbrouter closed this connection to "replica1": the node failed its health checks \(connect ETIMEDOUT\)/);
  for (const e of [my, pgEngine]) {
    assert.equal(e.isConnectionError(cut), true);
    assert.equal(e.neverSent(cut), false, 'it was sent: the outcome is unknown');
  }
  const sqlError = (code: string, message: string) => Object.assign(new Error(message), { code });
  const closed = sqlError('ER_CMD_CONNECTION_CLOSED', '(conn:12, no: 45013, SQLState: 08S01) Cannot execute new commands: connection closed');
  assert.equal(my.isConnectionError(closed), true);
  assert.equal(my.neverSent(closed), true);
  const socketClosed = sqlError('ER_SOCKET_UNEXPECTED_CLOSE', 'socket has unexpectedly been closed');
  assert.equal(my.isConnectionError(socketClosed), true);
  assert.equal(my.neverSent(socketClosed), false);
  const couldNotOpen = sqlError('ER_GET_CONNECTION_TIMEOUT', '(conn:-1, no: 45028, SQLState: HY000) pool failed to retrieve a connection from pool\n    (pool connections: active=0 idle=0 limit=10)');
  assert.equal(my.isConnectionError(couldNotOpen), true);
  assert.equal(my.neverSent(couldNotOpen), true);
  const full = sqlError('ER_GET_CONNECTION_TIMEOUT', '(conn:-1, no: 45028, SQLState: HY000) pool timeout: failed to retrieve a connection from pool after 5001ms');
  assert.equal(my.isConnectionError(full), false, 'a full pool is not the node failing');
});
