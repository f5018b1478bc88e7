// sqlComment on real servers: the server itself shows, while a statement runs, the comment naming
// the node it runs on (pg_stat_activity, MariaDB's processlist); statements that a careless comment
// would break (named prepared statements, multi-statements, COPY, LISTEN, execute) still work.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { createCluster, type Cluster } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import { createMariadbPool } from '../../src/engines/mysql/mariadb-connector.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';

/** What the servers show of a statement while it runs, by alias: polled until `running` settles (bounded by it). */
async function seenWhileRunning(running: Promise<unknown>, look: () => Promise<[alias: string, text: string][]>): Promise<[string, string][]> {
  let done = false;
  const finished = running.finally(() => { done = true; });
  let seen: [string, string][] = [];
  while (!done && seen.length === 0) {
    seen = await look();
    if (seen.length === 0) await new Promise((r) => setTimeout(r, 20));
  }
  await finished;
  return seen;
}

describe('sqlComment on postgres', { skip: await engineSkip('postgres') }, () => {
  let local: LocalCluster;
  let cluster: Cluster;
  const watchers: pg.Client[] = [];
  let aliases: string[];

  before(async () => {
    local = await sharedCluster('postgres');
    aliases = Object.keys(local.databases);
    cluster = createCluster({ databases: Object.fromEntries(aliases.map((a) => [a, local.databases[a]!.url])), consistency: 'eventual', sqlComment: true });
    for (const a of aliases) {
      const c = new pg.Client({ connectionString: local.databases[a]!.url, connectionTimeoutMillis: 5000 });
      await c.connect();
      watchers.push(c);
    }
  });
  after(async () => {
    await Promise.all(watchers.map((c) => c.end()));
    await cluster.end();
  });

  const look = (needle: string) => async (): Promise<[string, string][]> => {
    const out: [string, string][] = [];
    for (const [i, c] of watchers.entries()) {
      const r = await c.query<{ query: string }>("SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE '%' || $1 || '%'", [needle]);
      for (const row of r.rows) out.push([aliases[i]!, row.query]);
    }
    return out;
  };

  test('pg_stat_activity shows the comment with the alias of the server running the statement', async () => {
    const pool = createPgPool(cluster);
    try {
      const seenRead = await seenWhileRunning(pool.query('SELECT pg_sleep(0.8), $1::text AS secret', ['param-secret']), look('pg_sleep(0.8)'));
      assert.equal(seenRead.length, 1, JSON.stringify(seenRead));
      const [alias, text] = seenRead[0]!;
      assert.match(alias, /^replica/);
      assert.equal(text, `SELECT pg_sleep(0.8), $1::text AS secret /*dbrouter_alias='${alias}',dbrouter_reason='select'*/`);
      assert.ok(!text.includes('param-secret'));
      const seenWrite = await seenWhileRunning(pool.query('CREATE TABLE IF NOT EXISTS sqlc_pg AS SELECT 1 AS v FROM pg_sleep(0.8)'), look('sqlc_pg'));
      assert.deepEqual(seenWrite.map(([a, t]) => [a, t.endsWith("/*dbrouter_alias='default',dbrouter_reason='ddl'*/")]), [['default', true]]);
    } finally {
      await pool.end();
    }
  });

  test('named statements, multi-statements, COPY, LISTEN and unreadable SQL still work', async () => {
    const pool = createPgPool(cluster);
    try {
      // The same name on the same connections, over and over: node-postgres checks the text never changes.
      for (let i = 0; i < 6; i++) {
        const r = await pool.query({ name: 'sqlc-by-port', text: 'SELECT inet_server_port() AS port, $1::int AS i', values: [i] });
        assert.equal(r.rows[0]!.i, i);
      }
      const multi = await pool.query('SELECT 1 AS a; SELECT 2 AS b;') as unknown as pg.QueryResult[];
      assert.deepEqual(multi.map((r) => r.rows[0] as unknown), [{ a: 1 }, { b: 2 }]);
      const copy = await pool.query('COPY (SELECT 1) TO STDOUT');
      assert.equal(copy.command, 'COPY');
      const client = await pool.connect();
      try {
        await client.query('LISTEN sqlc_channel');
        const heard = new Promise<string>((resolve) => client.on('notification', (n: { payload?: string }) => resolve(n.payload ?? '')));
        await pool.query("NOTIFY sqlc_channel, 'hello'");
        assert.equal(await Promise.race([heard, new Promise((_, reject) => setTimeout(() => reject(new Error('no notification in 5 s')), 5000).unref())]), 'hello');
      } finally {
        client.release();
      }
      await assert.rejects(pool.query('SELEC 1'), /syntax error at or near "SELEC"/);
    } finally {
      await pool.end();
    }
  });
});

describe('sqlComment on mariadb', { skip: await engineSkip('mariadb') }, () => {
  let local: LocalCluster;
  let cluster: Cluster;
  const watchers: mysql.Connection[] = [];
  let aliases: string[];

  before(async () => {
    local = await sharedCluster('mariadb');
    aliases = Object.keys(local.databases);
    cluster = createCluster({ databases: Object.fromEntries(aliases.map((a) => [a, local.databases[a]!.url])), consistency: 'eventual', sqlComment: true });
    for (const a of aliases) watchers.push(await mysql.createConnection({ uri: local.databases[a]!.url, connectTimeout: 5000 }));
  });
  after(async () => {
    await Promise.all(watchers.map((c) => c.end()));
    await cluster.end();
  });

  const look = (needle: string) => async (): Promise<[string, string][]> => {
    const out: [string, string][] = [];
    for (const [i, c] of watchers.entries()) {
      const [rows] = await c.query("SELECT INFO AS info FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE CONCAT('%', ?, '%')", [needle]);
      for (const row of rows as { info: string }[]) out.push([aliases[i]!, row.info]);
    }
    return out;
  };

  for (const driver of ['mysql2', 'mariadb'] as const) {
    test(`${driver}: the processlist shows the comment with the alias of the server running the statement`, async () => {
      const pool = driver === 'mysql2' ? createMysqlPool(cluster) : createMariadbPool(cluster);
      const needle = `SLEEP(0.8${driver === 'mysql2' ? '1' : '2'})`;
      try {
        const seen = await seenWhileRunning(pool.query(`SELECT ${needle}, ? AS secret;`, ['param-secret']), look(needle));
        assert.equal(seen.length, 1, JSON.stringify(seen));
        const [alias, text] = seen[0]!;
        assert.match(alias, /^replica/);
        // Client-side placeholders (mysql2 query) are filled in by the driver: the parameter is in
        // the statement, as it always is with them; the comment names no parameter.
        assert.match(text, new RegExp(`^SELECT SLEEP\\(0\\.8\\d\\), (\\?|'param-secret') AS secret /\\*dbrouter_alias='${alias}',dbrouter_reason='select'\\*/;?$`));
        // A prepared statement, again and again: its text never changes on a connection.
        for (let i = 0; i < 4; i++) await pool.execute('SELECT @@port AS port, ? AS i', [i]);
        await assert.rejects(pool.query('SELEC 1'), /SQL syntax/);
      } finally {
        await pool.end();
      }
    });
  }
});
