// What node-postgres's own suites expect of a Pool and a Client, through pgDriver(cluster) on real
// replicas (found by running pg-pool's, pg's, pg-cursor's and pg-query-stream's tests over it):
// statements sent without awaiting reach one session in order, the config a library passes to
// `new Pool(config)` / `new Client(config)` is honoured (not where to connect), end() lets work in
// flight finish, named statements run by name alone, the transaction status and `drain` come from
// the connection, and a Client's end() closes its session. Each test says where its statements ran,
// by the server's own port and by the cluster's debug log.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import Cursor from 'pg-cursor';
import QueryStream from 'pg-query-stream';
import pgModule, { type QueryResult } from 'pg';
import { pgDriver, type PgDriverModule } from '../../src/engines/postgres/index.js';
import { isDbRouterError } from '../../src/errors.js';
import { engineSkip } from '../harness/clusters.js';
import { idleWithin, pgOrmSetup, within, type PgOrmSetup } from './orm-pg-helpers.js';

const TABLE = 'rt_fidelity_items';
const RawClient = pgModule.Client;

describe('pg driver fidelity: what node-postgres promises, through pgDriver', { skip: await engineSkip('postgres') }, () => {
  let s: PgOrmSetup;
  let pg: PgDriverModule;

  before(async () => {
    s = await pgOrmSetup();
    pg = pgDriver(s.cluster);
    const setup = new pg.Pool();
    await setup.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await setup.query(`CREATE TABLE ${TABLE} (id int PRIMARY KEY, v text)`);
    await setup.query(`INSERT INTO ${TABLE} SELECT g, 'row' || g FROM generate_series(1, 40) g`);
    await setup.end();
    await s.local.waitForAllReplicas();
  });
  after(async () => {
    await pg?.end();
    await s?.cluster.end();
  });
  beforeEach(async () => {
    await s.local.waitForAllReplicas();
    s.cluster.resetStats();
  });
  afterEach(() => assert.equal(s.cluster.stats().misroutes, 0));

  test('statements sent without awaiting meet on one session, in order: a temp table created, filled and read on the primary', async () => {
    const pool = new pg.Pool();
    const client = await pool.connect();
    const created = client.query('CREATE TEMP TABLE rt_fid_tmp (n int)');
    const inserted = client.query('INSERT INTO rt_fid_tmp VALUES (1), (2)');
    const read = client.query('SELECT count(*)::int AS n, pg_backend_pid() AS pid, inet_server_port() AS port FROM rt_fid_tmp');
    const pid = client.query('SELECT pg_backend_pid() AS pid');
    await Promise.all([created, inserted]);
    const { rows } = await read;
    assert.equal(rows[0]!.n, 2);
    assert.equal(s.aliasOf(rows[0]!.port), 'default');
    assert.equal((await pid).rows[0]!.pid, rows[0]!.pid, 'every statement on the one session');
    assert.deepEqual(new Set(s.cluster.queries.map((q) => q.alias)), new Set(['default']));
    client.release();
    await pool.end();
  });

  test('new Pool(config): sizes and session settings reach every node; where to connect stays the cluster\'s', async () => {
    // A host and port that lead nowhere: ignored, the cluster's databases decide.
    const pool = new pg.Pool({ host: '192.0.2.1', port: 1, max: 1, statement_timeout: 3000, application_name: 'rt-fidelity' });
    assert.equal(pool.options.max, 1);
    const read = await pool.query("SELECT current_setting('statement_timeout') AS st, current_setting('application_name') AS app, inet_server_port() AS port");
    assert.match(s.aliasOf(read.rows[0]!.port)!, /^replica/);
    assert.deepEqual([read.rows[0]!.st, read.rows[0]!.app], ['3s', 'rt-fidelity']);
    const write = await pool.query(`UPDATE ${TABLE} SET v = v WHERE id = 1 RETURNING current_setting('statement_timeout') AS st, inet_server_port() AS port`);
    assert.equal(s.aliasOf(write.rows[0]!.port), 'default');
    assert.equal(write.rows[0]!.st, '3s');
    // max: 1 per node: every node's pool holds at most one connection.
    await Promise.all(Array.from({ length: 6 }, () => pool.query('SELECT pg_sleep(0.01)')));
    for (const p of s.cluster.poolStats()) assert.ok(p.total <= 1, `${p.alias}: ${p.total} connections`);
    await pool.end();
  });

  test('new Client(config): its session settings, not another Client\'s; a second connect() is refused', async () => {
    const strict = new pg.Client({ statement_timeout: 2000 });
    const plain = new pg.Client();
    await strict.connect();
    await plain.connect();
    const a = await strict.query("SELECT current_setting('statement_timeout') AS st, inet_server_port() AS port");
    const b = await plain.query("SELECT current_setting('statement_timeout') AS st, inet_server_port() AS port");
    assert.equal(a.rows[0]!.st, '2s');
    assert.equal(b.rows[0]!.st, '0');
    assert.match(s.aliasOf(a.rows[0]!.port)!, /^replica/);
    await assert.rejects(strict.connect(), (e: unknown) => isDbRouterError(e, 'CLIENT_RELEASED'));
    await strict.end();
    await plain.end();
  });

  test('end() lets statements already issued and checked-out clients finish; after it, new work is refused', async () => {
    const pool = new pg.Pool();
    const client = await pool.connect();
    let done = 0;
    const issued = Array.from({ length: 8 }, (_, i) => pool.query('SELECT $1::int AS i, inet_server_port() AS port, pg_sleep(0.02)', [i]).then((r) => {
      done++;
      return r;
    }));
    const ending = pool.end();
    await assert.rejects(pool.query('SELECT 1'), (e: unknown) => isDbRouterError(e, 'POOL_ENDED'));
    // The client checked out before end() still works until it is released.
    const { rows } = await client.query(`SELECT count(*)::int AS n, inet_server_port() AS port FROM ${TABLE}`);
    assert.equal(rows[0]!.n, 40);
    assert.match(s.aliasOf(rows[0]!.port)!, /^replica/);
    assert.equal(pool.ended, false, 'not ended while a client is out');
    client.release();
    await within(ending, 5000, 'end()');
    assert.equal(done, 8, 'every statement issued before end() finished first');
    for (const r of await Promise.all(issued)) assert.match(s.aliasOf(r.rows[0]!.port)!, /^replica/);
    assert.equal(pool.ended, true);
  });

  test('pool.query(callback) alone calls back with an error instead of never calling it', async () => {
    const pool = new pg.Pool();
    const err = await within(new Promise<Error>((resolve) => (pool.query as unknown as (cb: (e: Error) => void) => void)(resolve)), 3000, 'the callback');
    assert.ok(err instanceof TypeError);
    await pool.end();
  });

  test('a named statement runs again by its name alone, on a replica', async () => {
    const client = new pg.Client();
    await client.connect();
    const first = await client.query({ name: 'rt_fid_named', text: `SELECT v, inet_server_port() AS port FROM ${TABLE} WHERE id = $1`, values: [3] });
    // pg's types want a text; pg itself runs a statement prepared on the connection by its name.
    const again = await client.query({ name: 'rt_fid_named', values: [4] } as unknown as { text: string; values: unknown[] });
    assert.equal(first.rows[0]!.v, 'row3');
    assert.equal(again.rows[0]!.v, 'row4');
    assert.match(s.aliasOf(again.rows[0]!.port)!, /^replica/);
    await client.end();
  });

  test("getTransactionStatus is the held connection's: 'E' after an error in a transaction, 'I' after ROLLBACK", async () => {
    const pool = new pg.Pool();
    const client = await pool.connect();
    assert.equal(client.getTransactionStatus(), 'I');
    await client.query('BEGIN');
    await client.query(`UPDATE ${TABLE} SET v = v WHERE id = 2`);
    assert.equal(client.getTransactionStatus(), 'T');
    await assert.rejects(client.query('SELECT * FROM rt_fid_no_such_table'));
    // As in pg, the status is the server's ReadyForQuery, which comes after the error: one more round trip.
    await assert.rejects(client.query('SELECT 1'), /current transaction is aborted/);
    assert.equal(client.getTransactionStatus(), 'E');
    await client.query('ROLLBACK');
    assert.equal(client.getTransactionStatus(), 'I');
    assert.deepEqual(new Set(s.cluster.queries.map((q) => q.alias)), new Set(['default']));
    client.release();
    await pool.end();
  });

  test('a statement issued after a stream reaches the connection after it: the streamed INSERT fails before ROLLBACK answers', async () => {
    const pool = new pg.Pool();
    const client = await pool.connect();
    await client.query('BEGIN');
    const stream = new QueryStream(`INSERT INTO ${TABLE} (id, v) VALUES ($1, 'x') RETURNING id`, ['not a number']);
    let streamError: Error | undefined;
    stream.on('data', () => {}).on('error', (e) => (streamError = e));
    client.query(stream);
    await client.query('ROLLBACK');
    assert.ok(streamError, 'the stream failed before ROLLBACK answered');
    assert.equal(client.boundAlias, 'default');
    client.release();
    await pool.end();
  });

  test("a client emits 'drain' once its cursor is closed, and the cursor read on a replica", async () => {
    const client = new pg.Client();
    await client.connect();
    const cursor = client.query(new Cursor(`SELECT id, inet_server_port() AS port FROM ${TABLE} ORDER BY id`));
    const drained = once(client, 'drain');
    const rows = (await cursor.read(5)) as { port: number }[];
    assert.equal(rows.length, 5);
    assert.match(s.aliasOf(rows[0]!.port)!, /^replica/);
    await cursor.close();
    await within(drained, 3000, "'drain'");
    await client.end();
  });

  test("a Client's end() closes its session: its temp table is gone for the next Client; querying after end() is refused as pg does", async () => {
    const first = new pg.Client();
    await first.connect();
    await first.query('CREATE TEMP TABLE rt_fid_session (n int)');
    assert.equal(first.boundAlias, 'default');
    await first.end();
    await assert.rejects(first.query('SELECT 1'), /Client was closed and is not queryable/);
    // Every Client of this module shares one pool of primary connections: a reused session would still have the table.
    const others = Array.from({ length: 3 }, () => new pg.Client());
    for (const c of others) {
      await c.connect();
      const { rows } = await c.query("SELECT to_regclass('pg_temp.rt_fid_session') IS NULL AS gone, inet_server_port() AS port FROM (SELECT 1 FROM " + TABLE + ' LIMIT 1 FOR UPDATE) t');
      assert.equal(rows[0]!.gone, true);
      assert.equal(s.aliasOf(rows[0]!.port), 'default');
    }
    for (const c of others) await c.end();
  });

  test("pool.query's callback hears `undefined` as its error on success, as pg-pool's; on failure the server's error", async () => {
    const pool = new pg.Pool();
    const ok = await within(new Promise<[unknown, QueryResult | undefined]>((resolve) => {
      pool.query('SELECT inet_server_port() AS port', (err: unknown, res: QueryResult | undefined) => resolve([err, res]));
    }), 3000, 'the callback');
    assert.equal(ok[0], undefined);
    assert.match(s.aliasOf(ok[1]!.rows[0]!.port)!, /^replica/);
    const failed = await within(new Promise<unknown>((resolve) => {
      pool.query('SELECT no_such_column FROM pg_class', [], (err: unknown) => resolve(err));
    }), 3000, 'the callback');
    assert.equal((failed as { code?: unknown }).code, '42703');
    await pool.end();
  });

  test("an error emitted on a client after its release reaches the pool's 'error' event with err.client, and crashes nothing", async () => {
    const pool = new pg.Pool();
    const client = await pool.connect();
    const { rows } = await client.query('SELECT inet_server_port() AS port');
    assert.match(s.aliasOf(rows[0]!.port)!, /^replica/);
    client.release();
    const heard = once(pool, 'error');
    client.emit('error', new Error('after release'));
    const [err, from] = (await within(heard, 3000, "the pool's error event")) as [Error & { client?: unknown }, unknown];
    assert.equal(err.message, 'after release');
    assert.equal(err.client, client);
    assert.equal(from, client);
    await pool.end();
  });

  test('a checked-out client reports the pool\'s binary and pipeline settings, as pg\'s client.binary / client.pipeline', async () => {
    const plain = new pg.Pool();
    const a = await plain.connect();
    assert.deepEqual([a.binary, a.pipeline], [false, false]);
    a.release();
    await plain.end();
    const piped = new pg.Pool({ pipeline: true });
    const b = await piped.connect();
    assert.equal(b.pipeline, true);
    const [r1, r2, r3] = await Promise.all([b.query('SELECT 1 AS n, inet_server_port() AS port'), b.query('SELECT 2 AS n'), b.query('SELECT 3 AS n')]);
    assert.deepEqual([r1.rows[0]!.n, r2.rows[0]!.n, r3.rows[0]!.n], [1, 2, 3]);
    assert.match(s.aliasOf(r1.rows[0]!.port)!, /^replica/);
    b.release();
    await piped.end();
  });

  test("the Promise option, as pg-pool's and pg's: the pool's, its clients' and a Client's promises are the library's", async () => {
    class Library<T> extends Promise<T> {}
    const fromLibrary = (p: unknown): boolean => p instanceof Library;
    const pool = new pg.Pool({ Promise: Library });
    const read = pool.query('SELECT inet_server_port() AS port');
    assert.ok(fromLibrary(read), 'pool.query');
    assert.match(s.aliasOf((await read).rows[0]!.port)!, /^replica/);
    const checkout = pool.connect();
    assert.ok(fromLibrary(checkout), 'pool.connect');
    const client = await checkout;
    const write = client.query(`UPDATE ${TABLE} SET v = v WHERE id = 2 RETURNING inet_server_port() AS port`);
    assert.ok(fromLibrary(write), 'client.query');
    assert.equal(s.aliasOf((await write).rows[0]!.port), 'default');
    client.release();
    const ending = pool.end();
    assert.ok(fromLibrary(ending), 'pool.end');
    await ending;
    const lone = new pg.Client({ Promise: Library });
    const connected = lone.connect();
    assert.ok(fromLibrary(connected), 'client.connect');
    await connected;
    const q = lone.query('SELECT 1 AS n');
    assert.ok(fromLibrary(q), "a Client's query");
    assert.equal((await q).rows[0]!.n, 1);
    const closing = lone.end();
    assert.ok(fromLibrary(closing), "a Client's end");
    await closing;
    const plain = new pg.Pool();
    const native = plain.query('SELECT 1');
    assert.ok(!fromLibrary(native), 'a pool without the option keeps native promises');
    await native;
    await plain.end();
  });

  test("a Client's end() with a statement running fails it with pg's 'Connection terminated' before 'end', and its connection is closed", async () => {
    const marker = 'rt_fid_end_running';
    const client = new pg.Client();
    await client.connect();
    const failed = new Promise<Error | undefined>((resolve) => {
      client.query(new (pg.Query as new (c: object, cb: (e?: Error) => void) => never)({ text: `SELECT pg_sleep(30), '${marker}'` }, resolve));
    });
    // The statement is on its replica's connection: pg_stat_activity there shows it.
    const running = async (): Promise<string[]> => {
      const on: string[] = [];
      for (const [alias, d] of Object.entries(s.local.databases)) {
        const direct = new RawClient({ connectionString: d.url });
        await direct.connect();
        const { rowCount } = await direct.query('SELECT 1 FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()', [`%'${marker}'%`]);
        await direct.end();
        if (rowCount !== 0) on.push(alias);
      }
      return on;
    };
    let where: string[] = [];
    for (const until = Date.now() + 3000; where.length === 0 && Date.now() < until;) where = await running();
    assert.equal(where.length, 1);
    assert.match(where[0]!, /^replica/);
    const before = s.cluster.poolStats().filter((p) => p.alias === where[0]).reduce((n, p) => n + p.total, 0);
    let errBeforeEnd: Error | undefined;
    const ended = once(client, 'end').then(async () => (errBeforeEnd = await Promise.race([failed, Promise.resolve(undefined)])));
    await within(client.end(), 3000, 'end()');
    const err = await within(failed, 3000, "the statement's callback");
    assert.equal(err?.message, 'Connection terminated');
    await ended;
    assert.equal(errBeforeEnd?.message, 'Connection terminated', "the statement's error came before 'end'");
    // Closed, not lent on: the replica's pools hold one connection fewer (the server itself notices
    // the closed socket only when pg_sleep ends, as with pg alone).
    const totalOn = (): number => s.cluster.poolStats().filter((p) => p.alias === where[0]).reduce((n, p) => n + p.total, 0);
    for (const until = Date.now() + 3000; totalOn() !== before - 1 && Date.now() < until;) await new Promise((r) => setTimeout(r, 10));
    assert.equal(totalOn(), before - 1, "the statement's connection was closed");
    // Ended on purpose, not a sign of the replica: reads still go there.
    const pool = new pg.Pool();
    assert.match(s.aliasOf((await pool.query('SELECT inet_server_port() AS port')).rows[0]!.port)!, /^replica/);
    await pool.end();
  });

  test("a Client's end() right after a statement was sent, before it has a connection: it fails with 'Connection terminated' and no connection is kept", async () => {
    const client = new pg.Client();
    await client.connect();
    const failed = new Promise<Error | undefined>((resolve) => {
      client.query(new (pg.Query as new (c: object, cb: (e?: Error) => void) => never)({ text: 'SELECT pg_sleep(5)', name: 'rt_fid_sleep' }, resolve));
    });
    await within(client.end(), 3000, 'end()');
    assert.equal((await within(failed, 3000, "the statement's callback"))?.message, 'Connection terminated');
    for (const until = Date.now() + 3000; s.cluster.poolStats().some((p) => p.total !== p.idle) && Date.now() < until;) await new Promise((r) => setTimeout(r, 10));
    for (const p of s.cluster.poolStats()) assert.equal(p.total, p.idle, `${p.alias}: a connection still checked out`);
  });

  test('after all this, no connection is left checked out', async () => {
    const pool = new pg.Pool();
    await pool.query('SELECT 1');
    await idleWithin(pool);
    await pool.end();
  });
});
