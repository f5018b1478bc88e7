// What a failing node does to each kind of statement on each path (issue 9, items 2, 3 and 7), with
// fake drivers: a refused connection never reached a server (waits for a primary, or goes
// elsewhere); a statement cut mid-flight may have run (a write is WRITE_OUTCOME_UNKNOWN, a read is
// retried once elsewhere); a transaction cut is TRANSACTION_LOST. Also the engines' classification.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { QueryResult } from 'pg';
import { createCluster, isDbRouterError, type Cluster } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import { watchCluster } from '../../src/health/cluster-health.js';
import { postgresEngine } from '../../src/engines/postgres/engine.js';
import { mysqlEngine } from '../../src/engines/mysql/engine.js';
import { FakeClock, FakeProber, primary, replica } from './health-fakes.js';

const err = (message: string, props: Record<string, unknown> = {}) => Object.assign(new Error(message), props);
const refused = () => err('connect ECONNREFUSED 127.0.0.1:1', { code: 'ECONNREFUSED', syscall: 'connect', errno: -111 });
const pgCut = () => err('Connection terminated unexpectedly');
const mysqlCut = () => err('Connection lost: The server closed the connection.', { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });

describe('classification: never sent vs. cut mid-flight', () => {
  const cases: [string, Error, boolean, boolean][] = [
    // name, error, isConnectionError, neverSent
    ['refused', refused(), true, true],
    ['DNS failure', err('getaddrinfo ENOTFOUND db.invalid', { code: 'ENOTFOUND', syscall: 'getaddrinfo' }), true, true],
    ['host unreachable', err('connect EHOSTUNREACH', { code: 'EHOSTUNREACH', syscall: 'connect' }), true, true],
    ['TCP connect timeout', err('connect ETIMEDOUT 10.0.0.1:5432', { code: 'ETIMEDOUT', syscall: 'connect' }), true, true],
    ['reset of an open connection', err('read ECONNRESET', { code: 'ECONNRESET', syscall: 'read' }), true, false],
    ['timeout on an open connection', err('read ETIMEDOUT', { code: 'ETIMEDOUT', syscall: 'read' }), true, false],
    ['broken pipe', err('write EPIPE', { code: 'EPIPE', syscall: 'write' }), true, false],
  ];
  for (const [engine, e] of [['postgres', postgresEngine], ['mysql', mysqlEngine]] as const) {
    for (const [name, error, conn, never] of cases) {
      test(`${engine}: ${name}`, () => {
        assert.equal(e.isConnectionError(error), conn);
        assert.equal(e.neverSent(error), never);
      });
    }
  }
  const pgCases: [string, Error, boolean, boolean][] = [
    ['Connection terminated unexpectedly', pgCut(), true, false],
    ['57P01 terminated by pg_terminate_backend / fast shutdown', err('terminating connection due to administrator command', { code: '57P01' }), true, false],
    ['57P03 the database system is starting up / shutting down', err('the database system is shutting down', { code: '57P03' }), true, true],
    ['53300 too many connections', err('sorry, too many clients already', { code: '53300' }), true, true],
    // A full pool, not a failing node: no failover over it (but it was not sent either).
    ['pg-pool: waiting for a pool slot timed out', err('timeout exceeded when trying to connect'), false, true],
    ['pg-pool: connection timeout', err('Connection terminated due to connection timeout'), true, true],
    // pg's word when its own client ended the connection (a routed Client's end() with a statement running): no sign of the node.
    ["a client's own end()", err('Connection terminated'), false, false],
    ['a client already known dead', err('Client has encountered a connection error and is not queryable'), true, true],
    ['a syntax error', err('syntax error at or near "x"', { code: '42601' }), false, false],
    ['read-only', err('cannot execute INSERT in a read-only transaction', { code: '25006' }), false, false],
  ];
  for (const [name, error, conn, never] of pgCases) {
    test(`postgres: ${name}`, () => {
      assert.equal(postgresEngine.isConnectionError(error), conn);
      assert.equal(postgresEngine.neverSent(error), never);
    });
  }
  const myCases: [string, Error, boolean, boolean][] = [
    ['PROTOCOL_CONNECTION_LOST', mysqlCut(), true, false],
    ['ER_CONNECTION_KILLED (KILL CONNECTION)', err('Connection was killed', { code: 'ER_CONNECTION_KILLED', errno: 1927 }), true, false],
    ['ER_SERVER_SHUTDOWN', err('Server shutdown in progress', { code: 'ER_SERVER_SHUTDOWN', errno: 1053 }), true, false],
    ['ER_CON_COUNT_ERROR', err('Too many connections', { code: 'ER_CON_COUNT_ERROR', errno: 1040 }), true, true],
    ['mysql2 connectTimeout', err('connect ETIMEDOUT', { code: 'ETIMEDOUT', errorno: 'ETIMEDOUT', syscall: 'connect' }), true, true],
    ['a connection mysql2 knows is closed', err("Can't add new command when connection is in closed state", { fatal: true }), true, true],
    ['a duplicate key', err('Duplicate entry', { code: 'ER_DUP_ENTRY', errno: 1062 }), false, false],
  ];
  for (const [name, error, conn, never] of myCases) {
    test(`mysql: ${name}`, () => {
      assert.equal(mysqlEngine.isConnectionError(error), conn);
      assert.equal(mysqlEngine.neverSent(error), never);
    });
  }
});

/** Where statements ran, and which nodes refuse connections or cut which statements. */
class Net {
  ran: { alias: string; sql: string }[] = [];
  refused = new Set<string>();
  /** alias → its pool has no free connection (pg-pool's wait for one times out; nothing is sent). */
  full = new Set<string>();
  /** alias → its pool is full once; after that it refuses connections (a primary shutting down), calling `onRefused`. */
  fullThenRefused = new Set<string>();
  onRefused: ((alias: string) => void) | undefined;
  /** alias → statements cut mid-flight there (they "ran": recorded, then the connection dies). */
  cut = new Map<string, RegExp>();
  /** Like `cut`, for the first matching statement only. */
  cutOnce = new Map<string, RegExp>();
  released: { alias: string; err: boolean }[] = [];
  constructor(readonly cutError: () => Error) {}
  connect(alias: string): Promise<void> {
    return this.refused.has(alias) ? Promise.reject(refused()) : Promise.resolve();
  }
  run(alias: string, sql: string): Promise<string> {
    if (this.refused.has(alias)) {
      this.onRefused?.(alias);
      return Promise.reject(refused());
    }
    this.ran.push({ alias, sql });
    if (this.cut.get(alias)?.test(sql)) return Promise.reject(this.cutError());
    if (this.cutOnce.get(alias)?.test(sql)) {
      this.cutOnce.delete(alias);
      return Promise.reject(this.cutError());
    }
    return Promise.resolve(alias);
  }
  where(sql: string | RegExp): string[] {
    return this.ran.filter((r) => (typeof sql === 'string' ? r.sql === sql : sql.test(r.sql))).map((r) => r.alias);
  }
}

const pgResult = (alias: string): QueryResult => ({ rows: [{ alias }], command: 'SELECT', rowCount: 1, oid: 0, fields: [] });
const text = (q: unknown): string => (typeof q === 'string' ? q : (q as { text?: string; sql?: string }).text ?? (q as { sql: string }).sql);

class FakePgPool extends EventEmitter {
  totalCount = 0;
  idleCount = 0;
  waitingCount = 0;
  constructor(readonly net: Net, readonly alias: string) {
    super();
  }
  query(q: unknown): Promise<QueryResult> {
    if (this.net.fullThenRefused.delete(this.alias)) {
      this.net.refused.add(this.alias);
      return Promise.reject(err('timeout exceeded when trying to connect'));
    }
    if (this.net.full.has(this.alias)) return Promise.reject(err('timeout exceeded when trying to connect'));
    return this.net.run(this.alias, text(q)).then(pgResult);
  }
  async connect() {
    if (this.net.full.has(this.alias)) throw err('timeout exceeded when trying to connect');
    await this.net.connect(this.alias);
    const { net, alias } = this;
    const client = new EventEmitter() as EventEmitter & { query(q: unknown): Promise<QueryResult>; release(e?: unknown): void };
    client.query = (q: unknown) => net.run(alias, text(q)).then(pgResult);
    client.release = (e?: unknown) => void net.released.push({ alias, err: e !== undefined && e !== false });
    return client;
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
}

class FakeMysqlPool {
  readonly pool = new EventEmitter();
  constructor(readonly net: Net, readonly alias: string) {}
  query(q: unknown): Promise<[unknown, unknown]> {
    return this.net.run(this.alias, text(q)).then((alias) => [[{ alias }], []]);
  }
  execute(q: unknown): Promise<[unknown, unknown]> {
    return this.query(q);
  }
  async getConnection() {
    await this.net.connect(this.alias);
    const { net, alias } = this;
    return {
      connection: new EventEmitter(),
      query: (q: unknown) => net.run(alias, text(q)).then((a): [unknown, unknown] => [[{ alias: a }], []]),
      execute: (q: unknown) => net.run(alias, text(q)).then((a): [unknown, unknown] => [[{ alias: a }], []]),
      release: () => void net.released.push({ alias, err: false }),
      destroy: () => void net.released.push({ alias, err: true }),
    };
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
}

type Engine = 'postgres' | 'mysql';

/** One routed pool over fakes, as both engines' APIs: `one` a statement, `client` a checked-out one. */
interface Routed {
  query(sql: string): Promise<string>;
  queryCallback(sql: string): Promise<string>;
  client(): Promise<{ query(sql: string): Promise<string>; release(): void }>;
}

function routed(engine: Engine, cluster: Cluster, net: Net): Routed {
  if (engine === 'postgres') {
    const pool = createPgPool(cluster, { createPool: (_c, alias) => new FakePgPool(net, alias) });
    const alias = (r: QueryResult) => String(r.rows[0]!.alias);
    return {
      query: (sql) => pool.query(sql).then(alias),
      queryCallback: (sql) => new Promise((resolve, reject) => pool.query(sql, (e, r) => (e ? reject(e) : resolve(alias(r))))),
      client: async () => {
        const c = await pool.connect();
        return { query: (sql: string) => c.query(sql).then(alias), release: () => c.release() };
      },
    };
  }
  const pool = createMysqlPool(cluster, { createPool: (_c, alias) => new FakeMysqlPool(net, alias) });
  const alias = ([rows]: [unknown, unknown]) => String((rows as { alias: string }[])[0]!.alias);
  return {
    query: (sql) => pool.query(sql).then(alias),
    queryCallback: (sql) => new Promise((resolve, reject) => pool.query(sql, (e: Error | null, rows?: unknown) => (e ? reject(e) : resolve(String((rows as { alias: string }[])[0]!.alias))))),
    // The callback form of getConnection, as Kysely's MysqlDialect uses it.
    client: () => new Promise((resolve, reject) => pool.getConnection((e, c) => {
      if (e || !c) return reject(e ?? new Error('no connection'));
      resolve({ query: (sql: string) => c.query(sql).then(alias), release: () => c.release() });
    })),
  };
}

function databases(engine: Engine, replicas: number) {
  const scheme = engine === 'postgres' ? 'postgres' : 'mysql';
  const dbs: Record<string, { url: string; role: 'primary' | 'replica' }> = { default: { url: `${scheme}://app@127.0.0.1:5000/app`, role: 'primary' } };
  for (let i = 1; i <= replicas; i++) dbs[`replica${i}`] = { url: `${scheme}://app@127.0.0.1:${5000 + i}/app`, role: 'replica' };
  return dbs;
}

async function monitored(engine: Engine, consistency: 'eventual' | 'session' = 'eventual') {
  const cluster = createCluster({ databases: databases(engine, 2), consistency });
  const net = new Net(engine === 'postgres' ? pgCut : mysqlCut);
  const db = routed(engine, cluster, net);
  const clock = new FakeClock();
  const prober = new FakeProber();
  prober.behaviour.set('default', primary());
  prober.behaviour.set('replica1', replica());
  prober.behaviour.set('replica2', replica());
  const health = watchCluster(cluster, { prober, clock, checkIntervalMillis: 1000, checkTimeoutMillis: 500, failoverTimeoutMillis: 2000 });
  await health.start();
  /** The primary dies: connections refused; the monitor has not looked yet. */
  const killPrimary = () => {
    net.refused.add('default');
    prober.behaviour.set('default', refused());
  };
  const promoteReplica1 = async () => {
    prober.behaviour.set('replica1', primary('200'));
    prober.behaviour.set('replica2', replica('200', 0));
    await clock.advance(100);
  };
  return { cluster, net, db, clock, prober, health, killPrimary, promoteReplica1 };
}

/** Tracks a promise's state without handling its rejection for the test. */
function track<T>(p: Promise<T>): { readonly settled: boolean; readonly p: Promise<T> } {
  const t = { settled: false, p };
  p.then(() => { t.settled = true; }, () => { t.settled = true; });
  return t;
}

for (const engine of ['postgres', 'mysql'] as const) {
  describe(`${engine}: the primary refuses connections before the monitor noticed (item 2)`, () => {
    test('a checked-out client\'s INSERT waits for a primary and runs on the promoted replica', async () => {
      const { db, clock, health, net, killPrimary, promoteReplica1 } = await monitored(engine);
      killPrimary();
      const c = await db.client();
      const insert = track(c.query('INSERT INTO t VALUES (1)'));
      await clock.advance(300);
      assert.equal(insert.settled, false, 'waiting, not failed');
      await promoteReplica1();
      assert.equal(await insert.p, 'replica1');
      assert.deepEqual(net.where('INSERT INTO t VALUES (1)'), ['replica1'], 'ran once, on the new primary');
      c.release();
      await health.stop();
    });

    test('BEGIN … COMMIT on a checked-out client waits and runs whole on the promoted replica', async () => {
      const { db, clock, health, net, killPrimary, promoteReplica1 } = await monitored(engine);
      killPrimary();
      const c = await db.client();
      const begin = track(c.query('BEGIN'));
      await clock.advance(300);
      assert.equal(begin.settled, false);
      await promoteReplica1();
      assert.equal(await begin.p, 'replica1');
      assert.equal(await c.query('INSERT INTO t VALUES (2)'), 'replica1');
      assert.equal(await c.query('COMMIT'), 'replica1');
      assert.deepEqual(net.ran.map((r) => `${r.alias} ${r.sql}`), ['replica1 BEGIN', 'replica1 INSERT INTO t VALUES (2)', 'replica1 COMMIT']);
      c.release();
      await health.stop();
    });

    test('pool.query INSERT (promise and callback) waits the same way', async () => {
      const { db, clock, health, killPrimary, promoteReplica1 } = await monitored(engine);
      killPrimary();
      const a = track(db.query('INSERT INTO t VALUES (3)'));
      const b = track(db.queryCallback('INSERT INTO t VALUES (4)'));
      await clock.advance(300);
      assert.equal(a.settled || b.settled, false);
      await promoteReplica1();
      assert.deepEqual([await a.p, await b.p], ['replica1', 'replica1']);
      await health.stop();
    });

    test('a strong read, and a read-your-writes read no replica has replayed, wait and are served by the new primary', async () => {
      const { cluster, db, clock, health, killPrimary, promoteReplica1, prober } = await monitored(engine, 'session');
      // Replicas report a replay position behind the write's.
      prober.behaviour.set('default', primary('150'));
      await clock.advance(1000);
      const ryw = await cluster.withToken(undefined, async () => {
        await db.query('INSERT INTO t VALUES (5)');
        killPrimary();
        return track(db.query('SELECT * FROM t'));
      });
      const strong = track(db.query('/* dbrouter:strong */ SELECT * FROM t'));
      await clock.advance(300);
      assert.equal(ryw.settled || strong.settled, false, 'both wait');
      await promoteReplica1();
      assert.deepEqual([await ryw.p, await strong.p], ['replica1', 'replica1']);
      await health.stop();
    });

    test('with no primary within failoverTimeoutMillis: PRIMARY_UNAVAILABLE naming the write as not sent', async () => {
      const { db, clock, health, killPrimary } = await monitored(engine);
      killPrimary();
      const c = await db.client();
      const insert = assert.rejects(c.query('INSERT INTO t VALUES (6)'), (e) => isDbRouterError(e, 'PRIMARY_UNAVAILABLE'));
      await clock.advance(2500);
      await insert;
      c.release();
      await health.stop();
    });
  });

  if (engine === 'postgres') {
    // Issue 11 (test:ha): a primary partitioned away leaves its pool full of connections stuck
    // connecting; later statements time out waiting for a pool slot before the monitor has noticed.
    describe('postgres: the pool has no free connection (pg-pool: timeout exceeded when trying to connect)', () => {
      test('a write waits for a primary and runs on the promoted replica; a read runs on another replica', async () => {
        const { db, clock, health, net, killPrimary, promoteReplica1 } = await monitored(engine);
        killPrimary();
        net.full.add('default');
        net.full.add('replica2');
        const insert = track(db.query('INSERT INTO t VALUES (7)'));
        const c = await db.client();
        const held = track(c.query('INSERT INTO t VALUES (8)'));
        const reads = await Promise.all(Array.from({ length: 6 }, (_, i) => db.query(`SELECT ${i}`)));
        assert.deepEqual(new Set(reads), new Set(['replica1']), 'reads ran on the replica whose pool had room');
        await clock.advance(300);
        assert.equal(insert.settled || held.settled, false, 'the writes wait, not fail');
        await promoteReplica1();
        assert.deepEqual([await insert.p, await held.p], ['replica1', 'replica1']);
        assert.deepEqual(net.where(/^INSERT/), ['replica1', 'replica1'], 'each ran once, on the new primary');
        c.release();
        await health.stop();
      });

      test('a full pool, then the primary refuses the retry (it is shutting down): the write still waits for the new primary', async () => {
        const { db, clock, health, net, prober, promoteReplica1 } = await monitored(engine);
        net.fullThenRefused.add('default');
        net.onRefused = () => prober.behaviour.set('default', refused());
        const insert = track(db.query('INSERT INTO t VALUES (11)'));
        await clock.advance(300);
        assert.equal(insert.settled, false, 'waiting, not failed');
        await promoteReplica1();
        assert.equal(await insert.p, 'replica1');
        assert.deepEqual(net.where('INSERT INTO t VALUES (11)'), ['replica1']);
        await health.stop();
      });

      test('a full pool on a healthy primary: tried once more, then the driver\'s error', async () => {
        const { db, clock, health, net } = await monitored(engine);
        net.full.add('default');
        const insert = assert.rejects(db.query('INSERT INTO t VALUES (9)'), /timeout exceeded when trying to connect/);
        await clock.advance(100);
        await insert;
        assert.equal(health.status().primary, 'default', 'no failover over a full pool');
        net.full.delete('default');
        await clock.advance(1000);
        assert.equal(await db.query('INSERT INTO t VALUES (10)'), 'default');
        await health.stop();
      });
    });
  }

  describe(`${engine}: without a health monitor`, () => {
    const plain = (replicas: number) => {
      const cluster = createCluster({ databases: databases(engine, replicas), consistency: 'eventual', health: false });
      const net = new Net(engine === 'postgres' ? pgCut : mysqlCut);
      return { cluster, net, db: routed(engine, cluster, net) };
    };

    test('a refused write is PRIMARY_UNAVAILABLE with the driver\'s error as cause, on the pool and a checked-out client', async () => {
      const { net, db } = plain(1);
      net.refused.add('default');
      const check = (e: unknown) => isDbRouterError(e, 'PRIMARY_UNAVAILABLE') && (e.cause as { code?: string }).code === 'ECONNREFUSED' && /was not sent/.test(e.message);
      await assert.rejects(db.query('INSERT INTO t VALUES (1)'), check);
      const c = await db.client();
      await assert.rejects(c.query('INSERT INTO t VALUES (1)'), check);
      c.release();
    });

    test('a read cut mid-flight on the only replica is retried once on the primary: pool, callback, free client', async () => {
      const { net, db } = plain(1);
      net.cut.set('replica1', /SELECT/);
      assert.equal(await db.query('SELECT 1'), 'default');
      assert.equal(await db.queryCallback('SELECT 2'), 'default');
      const c = await db.client();
      assert.equal(await c.query('SELECT 3'), 'default');
      c.release();
      assert.deepEqual(net.where(/SELECT/), ['replica1', 'default', 'replica1', 'default', 'replica1', 'default']);
    });

    test('a read whose retry meets another failing replica goes on to the primary', async () => {
      const { net, db } = plain(2);
      net.cut.set('replica1', /SELECT/);
      net.cut.set('replica2', /SELECT/);
      // The first attempt is cut wherever it lands; the second is cut too, or refused, if it
      // lands on the other replica; the third is the primary's.
      for (const refuse of [false, true]) {
        for (let i = 0; i < 10; i++) {
          net.refused.clear();
          net.ran = [];
          const answer = db.query('SELECT 1');
          if (refuse) {
            net.refused.add('replica1');
            net.refused.add('replica2');
          }
          assert.equal(await answer, 'default');
          assert.ok(net.ran.length <= 3 && net.ran.at(-1)!.alias === 'default');
        }
      }
    });

    test('a cut read inside a transaction is not retried', async () => {
      const { net, db } = plain(1);
      const c = await db.client();
      await c.query('BEGIN');
      net.cut.set('default', /SELECT/);
      await assert.rejects(c.query('SELECT 1'), (e) => isDbRouterError(e, 'TRANSACTION_LOST'));
      assert.deepEqual(net.where('SELECT 1'), ['default']);
      c.release();
    });
  });

  describe(`${engine}: a write cut mid-flight (item 7)`, () => {
    const setup = () => {
      const cluster = createCluster({ databases: databases(engine, 1), consistency: 'eventual', health: false });
      const net = new Net(engine === 'postgres' ? pgCut : mysqlCut);
      return { net, db: routed(engine, cluster, net) };
    };
    const unknown = (commit: boolean) => (e: unknown) =>
      isDbRouterError(e, 'WRITE_OUTCOME_UNKNOWN') && e.cause instanceof Error && /terminated|lost/i.test(e.cause.message) &&
      /may or may not have committed/.test(e.message) && (commit ? /COMMIT/ : /a write/).test(e.message);

    test('pool.query and the callback form: WRITE_OUTCOME_UNKNOWN with the driver\'s error as cause, never re-run', async () => {
      const { net, db } = setup();
      net.cut.set('default', /INSERT/);
      await assert.rejects(db.query('INSERT INTO t VALUES (1)'), unknown(false));
      await assert.rejects(db.queryCallback('INSERT INTO t VALUES (2)'), unknown(false));
      assert.deepEqual(net.where(/INSERT/), ['default', 'default'], 'each ran once');
    });

    test('an autocommit INSERT on a checked-out client: unknown; the client stays lost until released', async () => {
      const { net, db } = setup();
      net.cut.set('default', /INSERT/);
      const c = await db.client();
      let first: unknown;
      await assert.rejects(c.query('INSERT INTO t VALUES (1)'), (e) => { first = e; return unknown(false)(e); });
      await assert.rejects(c.query('SELECT 1'), (e) => e === first, 'later statements fail with the same error');
      c.release();
      assert.deepEqual(net.released, [{ alias: 'default', err: true }], 'the dead connection was destroyed, not pooled');
      const d = await db.client();
      assert.equal(await d.query('SELECT 1'), 'replica1', 'a new client works');
      d.release();
    });

    test('a statement inside a transaction: TRANSACTION_LOST (nothing committed); ROLLBACK after it fails the same way', async () => {
      const { net, db } = setup();
      net.cut.set('default', /INSERT/);
      const c = await db.client();
      await c.query('BEGIN');
      let lost: unknown;
      await assert.rejects(c.query('INSERT INTO t VALUES (1)'), (e) => {
        lost = e;
        return isDbRouterError(e, 'TRANSACTION_LOST') && /nothing it wrote was committed/.test(e.message) && e.cause instanceof Error;
      });
      await assert.rejects(c.query('ROLLBACK'), (e) => e === lost);
      c.release();
    });

    test('COMMIT cut mid-flight: WRITE_OUTCOME_UNKNOWN (a later ROLLBACK does not hide it)', async () => {
      const { net, db } = setup();
      net.cut.set('default', /^COMMIT/);
      const c = await db.client();
      await c.query('BEGIN');
      await c.query('INSERT INTO t VALUES (1)');
      let commitErr: unknown;
      await assert.rejects(c.query('COMMIT'), (e) => { commitErr = e; return unknown(true)(e); });
      await assert.rejects(c.query('ROLLBACK'), (e) => e === commitErr);
      c.release();
    });

    test('BEGIN cut on a fresh connection is sent again (it changed nothing), and the transaction goes on', async () => {
      const { net, db } = setup();
      net.cutOnce.set('default', /^BEGIN/);
      const c = await db.client();
      assert.equal(await c.query('BEGIN'), 'default');
      assert.equal(await c.query('INSERT INTO t VALUES (1)'), 'default');
      assert.equal(await c.query('COMMIT'), 'default');
      assert.deepEqual(net.ran.map((r) => r.sql), ['BEGIN', 'BEGIN', 'INSERT INTO t VALUES (1)', 'COMMIT']);
      c.release();
    });
  });
}
