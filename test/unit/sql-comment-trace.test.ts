// sqlCommentWithTrace (dbrouter/opentelemetry): the statement's comment carries the trace context of
// the span active where it was issued, written by the global propagator; none outside a span.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { createPgPool } from '../../src/engines/postgres/index.js';
import { sqlCommentWithTrace } from '../../src/observability/opentelemetry.js';
import { FakePgPool, fakeCluster } from './routing-fakes.js';

test('the comment carries traceparent of the caller\'s span with the alias and reason; prepared statements the alias alone', async () => {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const provider = new BasicTracerProvider();
  const { cluster, net } = fakeCluster('postgres', 1, { sqlComment: sqlCommentWithTrace() });
  const pool = createPgPool(cluster, { createPool: (config, alias) => new FakePgPool(net, alias, config) });
  try {
    await pool.query('SELECT 1');
    assert.equal(net.last().sql, "SELECT 1 /*dbrouter_alias='replica1',dbrouter_reason='select'*/", 'no span, no traceparent');
    const span = provider.getTracer('test').startSpan('request');
    await context.with(trace.setSpan(context.active(), span), async () => {
      await pool.query('SELECT 2');
      await pool.query({ name: 'two', text: 'SELECT 2' });
    });
    span.end();
    const { traceId, spanId } = span.spanContext();
    assert.equal(net.ran.at(-2)!.sql, `SELECT 2 /*dbrouter_alias='replica1',dbrouter_reason='select',traceparent='00-${traceId}-${spanId}-01'*/`);
    assert.equal(net.last().sql, "SELECT 2 /*dbrouter_alias='replica1'*/");
  } finally {
    await pool.end();
    await provider.shutdown();
    propagation.disable();
    contextManager.disable();
    context.disable();
  }
});
