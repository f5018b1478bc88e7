import { SpanKind, SpanStatusCode, trace, type Attributes, type Tracer, type TracerProvider } from '@opentelemetry/api';
import type { Cluster } from '../cluster/cluster.js';
import type { RouteEvent } from '../cluster/stats.js';
import { DbRouterError } from '../errors.js';
import { createClassifier } from '../sql/index.js';

/**
 * Options of {@link instrumentCluster}.
 *
 * @example
 *   instrumentCluster(cluster, { tracerProvider: provider })
 */
export interface TracingOptions {
  /** Where spans go; default the global provider (`trace.getTracerProvider()`). */
  readonly tracerProvider?: TracerProvider;
  /**
   * Also record the statement's text as `db.query.text`. Off by default: parameters never reach a
   * span, but a statement written with inline literals would carry them in its text.
   */
  readonly queryText?: boolean;
}

/** What {@link instrumentCluster} returns: `stop()` ends the instrumentation. */
export interface Instrumentation {
  /** Stops listening to the cluster's `'route'` events: later statements make no spans. Idempotent. */
  stop(): void;
}

const SYSTEM: Readonly<Record<string, string>> = { postgres: 'postgresql', mysql: 'mysql' };
const TRACER_NAME = 'dbrouter';

/**
 * Records every routed statement as an OpenTelemetry span, a child of the span active where the
 * statement was issued. Attributes: the stable database conventions — `db.system.name`,
 * `db.namespace`, `db.operation.name`, `server.address`, `server.port`, and on failure
 * `error.type` — plus `dbrouter.alias`, `dbrouter.role`, `dbrouter.reason` and
 * `dbrouter.misroute`. Never a parameter; the text only with `queryText: true`.
 * `@opentelemetry/api` is an optional peer dependency: install it to use this entry.
 *
 * @example
 *   import { instrumentCluster } from 'dbrouter/opentelemetry';
 *   const tracing = instrumentCluster(cluster);
 *   // … on shutdown: tracing.stop();
 */
export function instrumentCluster(cluster: Cluster, options: TracingOptions = {}): Instrumentation {
  checkOptions(options);
  const tracer: Tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(TRACER_NAME);
  const system = SYSTEM[cluster.engine] ?? cluster.engine;
  const classifier = createClassifier({ dialect: cluster.engine === 'postgres' ? 'postgres' : 'mysql' });
  const servers = new Map<string, { address: string; port: number; database: string | undefined }>();
  for (const d of cluster.describe()) servers.set(d.alias, serverOf(d.url));
  const queryText = options.queryText === true;
  const verbOf = (sql: string): string => {
    try {
      return classifier.classify(sql).verb;
    } catch {
      return '';
    }
  };

  // The `'route'` event fires in the async context of the caller that issued the statement, so the
  // span's parent is the caller's active span. Its start and end are the statement's own times.
  const onRoute = function recordSpan(e: RouteEvent): void {
    const end = performance.timeOrigin + performance.now();
    const start = end - e.durationMillis;
    const server = servers.get(e.alias);
    const operation = verbOf(e.sql);
    const attributes: Attributes = {
      'db.system.name': system,
      'dbrouter.alias': e.alias,
      'dbrouter.role': e.role,
      'dbrouter.reason': e.reason,
    };
    if (operation !== '') attributes['db.operation.name'] = operation;
    if (server !== undefined) {
      attributes['server.address'] = server.address;
      attributes['server.port'] = server.port;
      if (server.database !== undefined) attributes['db.namespace'] = server.database;
    }
    if (e.misroute) attributes['dbrouter.misroute'] = true;
    if (queryText) attributes['db.query.text'] = e.sql;
    if (e.failed) attributes['error.type'] = 'statement_failed';
    const name = [operation, server?.database].filter((s) => s !== undefined && s !== '').join(' ') || system;
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, startTime: start, attributes });
    if (e.failed) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end(end);
  };
  cluster.on('route', onRoute);
  return {
    stop(): void {
      cluster.off('route', onRoute);
    },
  };
}

function serverOf(url: string): { address: string; port: number; database: string | undefined } {
  const u = new URL(url);
  const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
  return { address: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || (u.protocol.startsWith('postgres') ? 5432 : 3306)), database: db === '' ? undefined : db };
}

function checkOptions(options: TracingOptions): void {
  if (typeof options !== 'object' || options === null) throw new DbRouterError('CONFIG_INVALID', 'instrumentCluster(cluster, options): options must be an object.');
  const known = ['tracerProvider', 'queryText'];
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new DbRouterError('CONFIG_INVALID', `instrumentCluster(): unknown option "${key}"; known options: ${known.join(', ')}.`);
  }
  if (options.queryText !== undefined && typeof options.queryText !== 'boolean') throw new DbRouterError('CONFIG_INVALID', 'instrumentCluster(): queryText must be true or false.');
  if (options.tracerProvider !== undefined && typeof options.tracerProvider.getTracer !== 'function') {
    throw new DbRouterError('CONFIG_INVALID', 'instrumentCluster(): tracerProvider must be an OpenTelemetry TracerProvider (it has getTracer()).');
  }
}
