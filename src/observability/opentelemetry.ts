/**
 * `dbrouter/opentelemetry`: one OpenTelemetry span per routed statement (see
 * {@link instrumentCluster}), and trace context in sqlcommenter comments ({@link sqlCommentWithTrace}).
 *
 * @module
 */
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Tracer, type TracerProvider } from '@opentelemetry/api';
import type { Cluster } from '../cluster/cluster.js';
import type { RouteEvent } from '../cluster/stats.js';
import { DbRouterError } from '../errors.js';
import type { SqlCommentFunction, SqlCommentTags } from '../routing/sql-comment.js';
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
  /**
   * `db.system.name`. Default `postgresql`, or for a MySQL-protocol cluster `mariadb` when its URLs
   * use the `mariadb://` scheme, else `mysql`: say `'mariadb'` for MariaDB servers given as `mysql://`.
   */
  readonly dbSystem?: 'postgresql' | 'mysql' | 'mariadb';
}

/** What {@link instrumentCluster} returns: `stop()` ends the instrumentation. */
export interface Instrumentation {
  /** Stops listening to the cluster's `'route'` events: later statements make no spans. Idempotent. */
  stop(): void;
}

const TRACER_NAME = 'dbrouter';

/**
 * Records every routed statement as an OpenTelemetry span, a child of the span active where the
 * statement was issued. Attributes: the stable database conventions — `db.system.name`,
 * `db.namespace`, `db.operation.name`, `server.address`, `server.port`, and on failure
 * `error.type` and `db.response.status_code` (SQLSTATE, or the MySQL/MariaDB error number) — plus `dbrouter.alias`, `dbrouter.role`, `dbrouter.reason`,
 * `dbrouter.wait.duration` (seconds spent before the statement was sent: waiting for a primary,
 * or for a replica that has the caller's writes) and `dbrouter.misroute`. The span covers the
 * wait and the statement. Never a parameter; the text only with `queryText: true`.
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
  const system = options.dbSystem ?? systemOf(cluster);
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
    const start = end - e.durationMillis - e.waitedMillis;
    const server = servers.get(e.alias);
    const operation = verbOf(e.sql);
    const attributes: Attributes = {
      'db.system.name': system,
      'dbrouter.alias': e.alias,
      'dbrouter.role': e.role,
      'dbrouter.reason': e.reason,
      'dbrouter.wait.duration': e.waitedMillis / 1000,
    };
    if (operation !== '') attributes['db.operation.name'] = operation;
    if (server !== undefined) {
      attributes['server.address'] = server.address;
      attributes['server.port'] = server.port;
      if (server.database !== undefined) attributes['db.namespace'] = server.database;
    }
    if (e.misroute) attributes['dbrouter.misroute'] = true;
    if (queryText) attributes['db.query.text'] = e.sql;
    if (e.failed) {
      attributes['error.type'] = e.errorType ?? '_OTHER';
      if (e.responseCode !== undefined) attributes['db.response.status_code'] = e.responseCode;
    }
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

/**
 * A `sqlComment` function (cluster configuration) that adds the trace context of the span active
 * where the statement was issued — `traceparent` (and `tracestate`), written by the global
 * propagator (`propagation.setGlobalPropagator`, which the Node SDK sets) — to `keys` (default
 * `dbrouter_alias` and `dbrouter_reason`), so a statement in a server log leads to its trace.
 * The parent's id, not the statement span's own: that span is recorded once the statement ends.
 * Every statement text becomes unique; prepared statements still carry their alias alone.
 *
 * @example
 *   const cluster = createCluster({ databases, sqlComment: sqlCommentWithTrace() });
 */
export function sqlCommentWithTrace(keys?: SqlCommentFunction): SqlCommentFunction {
  return function traceComment(s): SqlCommentTags | undefined {
    const base = keys === undefined ? { dbrouter_alias: s.alias, dbrouter_reason: s.reason } : keys(s);
    const carrier: Record<string, string> = {};
    propagation.inject(context.active(), carrier);
    return Object.keys(carrier).length === 0 ? base : { ...base, ...carrier };
  };
}

function systemOf(cluster: Cluster): string {
  if (cluster.engine === 'postgres') return 'postgresql';
  return cluster.describe().some((d) => d.url.startsWith('mariadb:')) ? 'mariadb' : 'mysql';
}

function serverOf(url: string): { address: string; port: number; database: string | undefined } {
  const u = new URL(url);
  const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
  return { address: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || (u.protocol.startsWith('postgres') ? 5432 : 3306)), database: db === '' ? undefined : db };
}

function checkOptions(options: TracingOptions): void {
  if (typeof options !== 'object' || options === null) throw new DbRouterError('CONFIG_INVALID', 'instrumentCluster(cluster, options): options must be an object.');
  const known = ['tracerProvider', 'queryText', 'dbSystem'];
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new DbRouterError('CONFIG_INVALID', `instrumentCluster(): unknown option "${key}"; known options: ${known.join(', ')}.`);
  }
  if (options.queryText !== undefined && typeof options.queryText !== 'boolean') throw new DbRouterError('CONFIG_INVALID', 'instrumentCluster(): queryText must be true or false.');
  if (options.dbSystem !== undefined && !['postgresql', 'mysql', 'mariadb'].includes(options.dbSystem)) {
    throw new DbRouterError('CONFIG_INVALID', "instrumentCluster(): dbSystem must be 'postgresql', 'mysql' or 'mariadb'.");
  }
  if (options.tracerProvider !== undefined && typeof options.tracerProvider.getTracer !== 'function') {
    throw new DbRouterError('CONFIG_INVALID', 'instrumentCluster(): tracerProvider must be an OpenTelemetry TracerProvider (it has getTracer()).');
  }
}
