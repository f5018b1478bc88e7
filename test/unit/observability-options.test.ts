// Bad options to the metrics and tracing entries fail at once with CONFIG_INVALID naming the option.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { createCluster, isDbRouterError } from '../../src/index.js';
import { registerMetrics, type MetricsOptions } from '../../src/observability/prometheus.js';
import { instrumentCluster, type TracingOptions } from '../../src/observability/opentelemetry.js';

const cluster = createCluster({
  databases: { default: { url: 'postgres://app@127.0.0.1:1/db', role: 'primary' }, replica1: { url: 'postgres://app@127.0.0.1:2/db', role: 'replica' } },
});

function invalid(fn: () => unknown, mentions: RegExp): void {
  assert.throws(fn, (e: unknown) => isDbRouterError(e, 'CONFIG_INVALID') && mentions.test(e.message));
}

test('registerMetrics: unknown option, bad prefix, foreign registry, bad label', () => {
  invalid(() => registerMetrics(cluster, { registy: new Registry() } as unknown as MetricsOptions), /unknown option "registy"/);
  invalid(() => registerMetrics(cluster, { registry: new Registry(), prefix: '9bad' }), /prefix "9bad"/);
  invalid(() => registerMetrics(cluster, { registry: {} as Registry }), /prom-client Registry/);
  invalid(() => registerMetrics(cluster, { registry: new Registry(), labels: { 'bad-name': 'x' } }), /labels\.bad-name/);
});

test('registerMetrics: every series is registered once, and unregister() removes them', async () => {
  const registry = new Registry();
  const m = registerMetrics(cluster, { registry, prefix: 'app_db_' });
  assert.ok(m.names.length >= 20);
  assert.ok(m.names.every((n) => n.startsWith('app_db_')));
  assert.match(await registry.metrics(), /app_db_node_state\{alias="replica1",state="up"\} 1/);
  m.unregister();
  assert.equal(registry.getMetricsAsArray().length, 0);
});

test('instrumentCluster: unknown option, bad queryText, bad provider', () => {
  invalid(() => instrumentCluster(cluster, { queryTxt: true } as unknown as TracingOptions), /unknown option "queryTxt"/);
  invalid(() => instrumentCluster(cluster, { queryText: 'yes' } as unknown as TracingOptions), /queryText/);
  invalid(() => instrumentCluster(cluster, { tracerProvider: {} } as unknown as TracingOptions), /TracerProvider/);
  invalid(() => instrumentCluster(cluster, { dbSystem: 'maria' } as unknown as TracingOptions), /dbSystem/);
});
