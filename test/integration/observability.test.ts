// Metrics (dbrouter/prometheus) and traces (dbrouter/opentelemetry) over real replicated clusters:
// each series and span must say where a statement really ran, asked of the server itself.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { createCluster, watchCluster, type Cluster, type ClusterHealth } from '../../src/index.js';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';
import { registerMetrics } from '../../src/observability/prometheus.js';
import { instrumentCluster } from '../../src/observability/opentelemetry.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';

type EngineName = 'postgres' | 'mariadb';

interface Db {
  /** Runs a read that reports the port of the server that ran it. */
  readPort(): Promise<number>;
  write(): Promise<void>;
  end(): Promise<void>;
}

function openDb(engine: EngineName, cluster: Cluster, table: string): Db {
  if (engine === 'postgres') {
    const pool = createPgPool(cluster);
    return {
      readPort: async () => Number((await pool.query<{ port: number }>('SELECT inet_server_port() AS port')).rows[0]!.port),
      write: async () => { await pool.query(`INSERT INTO ${table} (v) VALUES ($1)`, [1]); },
      end: () => pool.end(),
    };
  }
  const pool = createMysqlPool(cluster);
  return {
    readPort: async () => Number(((await pool.query('SELECT @@port AS port'))[0] as { port: number }[])[0]!.port),
    write: async () => { await pool.query(`INSERT INTO ${table} (v) VALUES (?)`, [1]); },
    end: () => pool.end(),
  };
}

/** The value of one series in Prometheus text output, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && line.split(' ')[0] !== name) continue;
    const m = /^([^{\s]+)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

for (const engine of ['postgres', 'mariadb'] as const) {
  describe(`observability on ${engine}`, { skip: await engineSkip(engine) }, () => {
    let local: LocalCluster;
    let cluster: Cluster;
    let health: ClusterHealth;
    let db: Db;
    let aliasOfPort: Map<number, string>;
    const table = `obs_${engine}_items`;

    before(async () => {
      local = await sharedCluster(engine);
      aliasOfPort = new Map(Object.entries(local.databases).map(([alias, d]) => [Number(new URL(d.url).port), alias]));
      cluster = createCluster({
        databases: Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, d.url])),
        consistency: 'eventual',
      });
      health = watchCluster(cluster, { checkIntervalMillis: 200, maxReplicationLagMillis: 1000 });
      await health.start();
      db = openDb(engine, cluster, table);
      const ddl = engine === 'postgres'
        ? `CREATE TABLE IF NOT EXISTS ${table} (id serial PRIMARY KEY, v int)`
        : `CREATE TABLE IF NOT EXISTS ${table} (id INT AUTO_INCREMENT PRIMARY KEY, v INT)`;
      if (engine === 'postgres') await createPgPool(cluster).query(ddl);
      else await createMysqlPool(cluster).query(ddl);
      await local.waitForAllReplicas();
    });
    after(async () => {
      await db.end();
      await cluster.end();
      await health.stop();
    });

    test('statements by alias, role and reason match where the servers say they ran', async () => {
      const registry = new Registry();
      const metrics = registerMetrics(cluster, { registry, labels: { service: 'test' } });
      try {
        cluster.resetStats();
        const ran = new Map<string, number>();
        for (let i = 0; i < 12; i++) {
          const alias = aliasOfPort.get(await db.readPort())!;
          ran.set(alias, (ran.get(alias) ?? 0) + 1);
        }
        for (let i = 0; i < 3; i++) await db.write();
        const text = await registry.metrics();
        assert.ok(!ran.has('default'), 'reads went to replicas');
        for (const [alias, n] of ran) {
          assert.equal(sample(text, 'dbrouter_statements_total', { alias, role: 'replica', reason: 'select', service: 'test' }), n, `${alias} ran ${n} reads`);
        }
        const writes = sample(text, 'dbrouter_statements_total', { alias: 'default', role: 'primary', reason: 'insert' })
          ?? sample(text, 'dbrouter_statements_total', { alias: 'default', role: 'primary' });
        assert.equal(writes, 3);
        assert.equal(sample(text, 'dbrouter_misroutes_total', { alias: 'default' }), 0);
        assert.equal(sample(text, 'dbrouter_primary', { alias: 'default' }), 1);
        assert.equal(sample(text, 'dbrouter_primary', { alias: 'replica1' }), 0);
        assert.equal(sample(text, 'dbrouter_node_state', { alias: 'replica1', state: 'up' }), 1);
        assert.equal(sample(text, 'dbrouter_node_state', { alias: 'replica1', state: 'down' }), 0);
        for (const alias of ['replica1', 'replica2']) {
          const lag = sample(text, 'dbrouter_replica_lag_seconds', { alias });
          assert.ok(lag !== undefined && lag >= 0 && lag < 5, `${alias} lag ${lag}`);
          assert.equal(sample(text, 'dbrouter_node_in_rotation', { alias }), 1);
        }
        const unit = engine === 'postgres' ? 'dbrouter_replica_lag_bytes' : 'dbrouter_replica_lag_transactions';
        assert.ok(sample(text, unit, { alias: 'replica1' }) !== undefined, `${unit} is reported`);
        assert.ok((sample(text, 'dbrouter_pool_connections', { alias: 'default', state: 'total' }) ?? 0) >= 1, 'the primary pool has a connection');
        assert.equal(sample(text, 'dbrouter_pool_waiting_clients', { alias: 'default' }), 0);
        assert.match(text, /# TYPE dbrouter_statements_total counter/);
        assert.match(text, /# TYPE dbrouter_replica_lag_seconds gauge/);
      } finally {
        metrics.unregister();
      }
      assert.equal((await registry.metrics()).trim(), '', 'unregister() removes every series');
    });

    test('a paused replica shows its lag and leaves rotation; health events are counted', async () => {
      const registry = new Registry();
      const metrics = registerMetrics(cluster, { registry, health });
      const lagging = new Promise<void>((resolve) => health.once('lagging', () => resolve()));
      await local.pause('replica1');
      try {
        // Writes keep coming until the monitor reports the replica lagging (bounded by the test's own timeout).
        let stop = false;
        const writer = (async () => { while (!stop) await db.write(); })();
        await Promise.race([lagging, new Promise((_, reject) => setTimeout(() => reject(new Error('no lagging event in 30 s')), 30_000).unref())]);
        stop = true;
        await writer;
        const text = await registry.metrics();
        assert.ok((sample(text, 'dbrouter_replica_lag_seconds', { alias: 'replica1' }) ?? 0) > 0, 'replica1 lag is above 0');
        assert.equal(sample(text, 'dbrouter_node_in_rotation', { alias: 'replica1' }), 0);
        assert.equal(sample(text, 'dbrouter_health_events_total', { event: 'lagging', alias: 'replica1' }), 1);
      } finally {
        await local.resume('replica1');
        metrics.unregister();
      }
      await local.waitForAllReplicas();
    });

    test('each statement is a span under the caller\'s span, with semantic-convention attributes', async () => {
      const exporter = new InMemorySpanExporter();
      const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
      const contextManager = new AsyncLocalStorageContextManager().enable();
      context.setGlobalContextManager(contextManager);
      const tracing = instrumentCluster(cluster, { tracerProvider: provider, ...(engine === 'mariadb' ? { dbSystem: 'mariadb' as const } : {}) });
      try {
        const tracer = provider.getTracer('test');
        let port = 0;
        await tracer.startActiveSpan('request', async (parent) => {
          port = await db.readPort();
          await db.write();
          parent.end();
        });
        const spans = exporter.getFinishedSpans();
        const parent = spans.find((s) => s.name === 'request')!;
        const children = spans.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);
        assert.equal(children.length, 2, `two statement spans under the request (${spans.map((s) => s.name).join(', ')})`);
        const [read, write] = children.sort((a, b) => (a.startTime[0] - b.startTime[0]) || (a.startTime[1] - b.startTime[1]));
        const readAlias = aliasOfPort.get(port)!;
        assert.equal(read!.attributes['dbrouter.alias'], readAlias);
        assert.equal(read!.attributes['dbrouter.role'], 'replica');
        assert.equal(read!.attributes['dbrouter.reason'], 'select');
        assert.equal(read!.attributes['db.operation.name'], 'SELECT');
        assert.equal(read!.attributes['db.system.name'], engine === 'postgres' ? 'postgresql' : 'mariadb');
        assert.equal(read!.attributes['dbrouter.wait.duration'], 0, 'eventual consistency and a primary up: nothing to wait for');
        assert.equal(read!.attributes['server.port'], Number(new URL(local.databases[readAlias]!.url).port));
        assert.equal(read!.attributes['server.address'], '127.0.0.1');
        assert.ok(typeof read!.attributes['db.namespace'] === 'string');
        assert.equal(read!.attributes['db.query.text'], undefined, 'no statement text unless asked');
        assert.equal(write!.attributes['dbrouter.alias'], 'default');
        assert.equal(write!.attributes['dbrouter.role'], 'primary');
        assert.equal(write!.attributes['db.operation.name'], 'INSERT');
        for (const s of children) {
          for (const v of Object.values(s.attributes)) assert.notEqual(v, 1, 'no parameter value in a span');
        }
      } finally {
        tracing.stop();
        contextManager.disable();
        context.disable();
        trace.disable();
        await provider.shutdown();
      }
    });

    test('a statement the server refuses: error.type and db.response.status_code are its code, not its message', async () => {
      const exporter = new InMemorySpanExporter();
      const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
      const tracing = instrumentCluster(cluster, { tracerProvider: provider });
      const pool = engine === 'postgres' ? createPgPool(cluster) : createMysqlPool(cluster);
      try {
        await assert.rejects((pool as { query(sql: string): Promise<unknown> }).query('SELEC 1'));
        const span = exporter.getFinishedSpans().at(-1)!;
        const code = engine === 'postgres' ? '42601' : '1064';
        assert.equal(span.attributes['db.response.status_code'], code);
        assert.equal(span.attributes['error.type'], code);
        assert.equal(span.status.code, 2, 'status ERROR');
      } finally {
        tracing.stop();
        await pool.end();
        await provider.shutdown();
      }
    });

    test('a read that waited for a replica: the wait is an attribute and inside the span', async () => {
      const exporter = new InMemorySpanExporter();
      const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
      // Read-your-writes that waits (up to 300 ms) for a replica, and no monitor to know better.
      const waiting = createCluster({
        databases: Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, d.url])),
        consistency: { level: 'session', onBehind: 'wait', waitMillis: 300 },
        health: false,
      });
      const tracing = instrumentCluster(waiting, { tracerProvider: provider });
      const wdb = openDb(engine, waiting, table);
      await local.pause('replica1');
      await local.pause('replica2');
      try {
        await wdb.write();
        const port = await wdb.readPort();
        const spans = exporter.getFinishedSpans();
        const read = spans.at(-1)!;
        assert.equal(port, Number(new URL(local.databases.default!.url).port), 'no replica caught up: the read ran on the primary');
        assert.equal(read.attributes['dbrouter.alias'], 'default');
        assert.equal(read.attributes['dbrouter.reason'], 'read-your-writes');
        const waited = read.attributes['dbrouter.wait.duration'] as number;
        assert.ok(waited >= 0.29 && waited < 10, `waited ${waited} s, the 300 ms bound and a little`);
        const seconds = (read.endTime[0] - read.startTime[0]) + (read.endTime[1] - read.startTime[1]) / 1e9;
        assert.ok(seconds >= waited, `the span (${seconds} s) covers the wait (${waited} s)`);
        const write = spans.at(-2)!;
        assert.equal(write.attributes['dbrouter.wait.duration'], 0);
      } finally {
        await local.resume('replica1');
        await local.resume('replica2');
        tracing.stop();
        await wdb.end();
        await waiting.end();
        await provider.shutdown();
      }
      await local.waitForAllReplicas();
    });
  });
}
