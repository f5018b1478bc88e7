/**
 * `dbrouter/prometheus`: a cluster's routing, consistency, health and pool counters as
 * prom-client metrics (see {@link registerMetrics}).
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import { Counter, Gauge, Registry, register as globalRegistry, type CounterConfiguration, type GaugeConfiguration } from 'prom-client';
import type { Cluster } from '../cluster/cluster.js';
import { DbRouterError } from '../errors.js';
import type { HealthStatus } from '../health/monitor.js';

/**
 * Options of {@link registerMetrics}.
 *
 * @example
 *   registerMetrics(cluster, { registry, labels: { service: 'shop' } })
 */
export interface MetricsOptions {
  /** Where the collectors go; default prom-client's global registry (what `register.metrics()` serves). */
  readonly registry?: Registry;
  /** Prepended to every metric name; default `dbrouter_`. */
  readonly prefix?: string;
  /** Constant labels on every series (for example `{ cluster: 'orders' }` when a process has several clusters). */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * The health monitor whose events are counted (`dbrouter_health_events_total`,
   * `dbrouter_failovers_total`). Default: the cluster's own (`cluster.health`) when it has one.
   */
  readonly health?: EventEmitter;
}

/** What {@link registerMetrics} returns: `unregister()` removes every dbrouter collector from the registry. */
export interface RegisteredMetrics {
  /** The metric names registered (`dbrouter_…`), in registration order. */
  readonly names: readonly string[];
  /** Removes those metrics from the registry and stops counting health events. Call it before registering the same cluster again. */
  unregister(): void;
}

const HEALTH_EVENTS = ['node-down', 'node-up', 'lagging', 'caught-up', 'split-brain', 'problem', 'primary-lost'] as const;
const NODE_STATES = ['up', 'down', 'lagging', 'unknown'] as const;

/**
 * Registers dbrouter's collectors for one cluster on a prom-client registry. Counters and gauges
 * are read from the cluster when the registry is scraped, so routing a statement costs nothing
 * more; health events and failovers are counted as they happen. Names and units follow Prometheus
 * conventions (`_total` counters, `_seconds`, `_bytes`).
 *
 * Series: `dbrouter_statements_total{alias,role,reason}`, `dbrouter_statement_errors_total{alias}`,
 * `dbrouter_misroutes_total{alias}`, `dbrouter_consistency_primary_fallbacks_total{kind}`,
 * `dbrouter_consistency_waits_total{outcome}`, `dbrouter_consistency_position_captures_total`,
 * `dbrouter_consistency_replica_probes_total`, `dbrouter_tokens_issued_total`,
 * `dbrouter_tokens_accepted_total`, `dbrouter_tokens_rejected_total{reason}`,
 * `dbrouter_replica_lag_seconds{alias}`, `dbrouter_replica_lag_bytes{alias}` (PostgreSQL),
 * `dbrouter_replica_lag_transactions{alias}` (MySQL/MariaDB), `dbrouter_node_state{alias,state}`,
 * `dbrouter_node_in_rotation{alias}`, `dbrouter_node_rtt_seconds{alias}`, `dbrouter_primary{alias}`,
 * `dbrouter_health_events_total{event,alias}`, `dbrouter_failovers_total`,
 * `dbrouter_pool_connections{alias,state}`, `dbrouter_pool_waiting_clients{alias}`.
 *
 * @example
 *   import { register } from 'prom-client';
 *   import { registerMetrics } from 'dbrouter/prometheus';
 *   registerMetrics(cluster);
 *   app.get('/metrics', async (_req, res) => res.type(register.contentType).send(await register.metrics()));
 */
export function registerMetrics(cluster: Cluster, options: MetricsOptions = {}): RegisteredMetrics {
  checkOptions(options);
  const registry = options.registry ?? globalRegistry;
  const prefix = options.prefix ?? 'dbrouter_';
  const constLabels = options.labels ?? {};
  const names: string[] = [];
  const withConst = (labels: string[]): string[] => [...labels, ...Object.keys(constLabels)];
  const counter = (name: string, help: string, labels: string[], collect?: (c: Counter) => void): Counter => {
    const config: CounterConfiguration<string> = { name: prefix + name, help, labelNames: withConst(labels), registers: [registry] };
    if (collect) config.collect = function collectCounter(this: Counter) { this.reset(); collect(this); };
    names.push(config.name);
    return new Counter(config);
  };
  const gauge = (name: string, help: string, labels: string[], collect: (g: Gauge) => void): Gauge => {
    const config: GaugeConfiguration<string> = { name: prefix + name, help, labelNames: withConst(labels), registers: [registry], collect: function collectGauge(this: Gauge) { this.reset(); collect(this); } };
    names.push(config.name);
    return new Gauge(config);
  };
  const l = (labels: Record<string, string>): Record<string, string> => ({ ...labels, ...constLabels });

  // Counters read at scrape time: `inc` after `reset` sets the cumulative value.
  counter('statements_total', 'Statements routed, by the node that ran them and the reason it was chosen.', ['alias', 'role', 'reason'], (c) => {
    const roles = new Map(cluster.describe().map((d) => [d.alias, d.role ?? 'unknown']));
    for (const [alias, s] of Object.entries(cluster.stats().byAlias)) {
      for (const [reason, n] of Object.entries(s.byReason)) if (n > 0) c.inc(l({ alias, role: roles.get(alias) ?? 'unknown', reason }), n);
    }
  });
  counter('statement_errors_total', 'Statements that failed on a node (the error reached the caller).', ['alias'], (c) => {
    for (const [alias, s] of Object.entries(cluster.stats().byAlias)) c.inc(l({ alias }), s.errors);
  });
  counter('misroutes_total', 'Writes a replica refused as read-only and the primary re-ran (a router sent a write to a replica).', ['alias'], (c) => {
    for (const [alias, s] of Object.entries(cluster.stats().byAlias)) c.inc(l({ alias }), s.misroutes);
  });
  counter('consistency_primary_fallbacks_total', 'Reads sent to the primary because no replica had what they must see.', ['kind'], (c) => {
    const s = cluster.consistencyStats();
    c.inc(l({ kind: 'read-your-writes' }), s.primaryFallbacks);
    c.inc(l({ kind: 'bounded-staleness' }), s.boundedFallbacks);
  });
  counter('consistency_waits_total', 'Reads that waited for a replica to replay their position, by how the wait ended.', ['outcome'], (c) => {
    const s = cluster.consistencyStats();
    c.inc(l({ outcome: 'caught-up' }), Math.max(0, s.waits - s.waitsTimedOut - s.waitsAborted));
    c.inc(l({ outcome: 'timed-out' }), s.waitsTimedOut);
    c.inc(l({ outcome: 'aborted' }), s.waitsAborted);
  });
  counter('consistency_position_captures_total', 'Write positions asked of the primary after a unit of work wrote.', [], (c) => {
    c.inc(l({}), cluster.consistencyStats().captures);
  });
  counter('consistency_replica_probes_total', 'Replay positions asked of replicas by the consistency layer.', [], (c) => {
    c.inc(l({}), cluster.consistencyStats().probes);
  });
  counter('tokens_issued_total', 'Consistency tokens issued.', [], (c) => {
    c.inc(l({}), cluster.consistencyStats().tokens.issued);
  });
  counter('tokens_accepted_total', 'Consistency tokens accepted.', [], (c) => {
    c.inc(l({}), cluster.consistencyStats().tokens.accepted);
  });
  counter('tokens_rejected_total', 'Consistency tokens ignored, by reason (malformed, tampered, expired, …).', ['reason'], (c) => {
    for (const [reason, n] of Object.entries(cluster.consistencyStats().tokens.rejected)) c.inc(l({ reason }), n);
  });

  const nodes = (): HealthStatus['nodes'] => cluster.status()?.nodes ?? [];
  gauge('replica_lag_seconds', 'How far behind a replica is: the age of the oldest write it has not applied (0 when it has everything).', ['alias'], (g) => {
    for (const n of nodes()) if (n.role === 'replica' && n.lagMillis !== undefined) g.set(l({ alias: n.alias }), n.lagMillis / 1000);
  });
  gauge('replica_lag_bytes', 'PostgreSQL: WAL the replica has not replayed, in bytes.', ['alias'], (g) => {
    for (const n of nodes()) if (n.role === 'replica' && n.positionUnit === 'bytes') setKnown(g, l({ alias: n.alias }), positionLag(n));
  });
  gauge('replica_lag_transactions', 'MySQL/MariaDB: transactions the replica has not applied.', ['alias'], (g) => {
    for (const n of nodes()) if (n.role === 'replica' && n.positionUnit === 'transactions') setKnown(g, l({ alias: n.alias }), positionLag(n));
  });
  gauge('node_state', 'Routing state of each node: 1 for its current state (up, down, lagging, unknown), 0 for the others.', ['alias', 'state'], (g) => {
    for (const d of cluster.describe()) for (const s of NODE_STATES) g.set(l({ alias: d.alias, state: s }), d.state === s ? 1 : 0);
  });
  gauge('node_in_rotation', 'Replicas: 1 while it serves reads.', ['alias'], (g) => {
    for (const n of nodes()) if (n.role === 'replica') g.set(l({ alias: n.alias }), n.inRotation ? 1 : 0);
  });
  gauge('node_rtt_seconds', 'Round trip of the last health check of each node.', ['alias'], (g) => {
    for (const n of nodes()) if (n.rttMillis !== undefined) g.set(l({ alias: n.alias }), n.rttMillis / 1000);
  });
  gauge('primary', '1 for the node that takes writes now.', ['alias'], (g) => {
    const primary = cluster.status()?.primary ?? cluster.describe().find((d) => d.role === 'primary')?.alias;
    for (const d of cluster.describe()) g.set(l({ alias: d.alias }), d.alias === primary ? 1 : 0);
  });
  gauge('pool_connections', 'Connections of the routed pools to each node, by state (total, idle).', ['alias', 'state'], (g) => {
    for (const p of cluster.poolStats()) {
      g.set(l({ alias: p.alias, state: 'total' }), p.total);
      g.set(l({ alias: p.alias, state: 'idle' }), p.idle);
    }
  });
  gauge('pool_waiting_clients', 'Callers waiting for a connection to each node.', ['alias'], (g) => {
    for (const p of cluster.poolStats()) g.set(l({ alias: p.alias }), p.waiting);
  });

  // Events are counted as they happen: a scrape cannot see a node that went down and up between two.
  const events = counter('health_events_total', 'Health monitor events: node-down, node-up, lagging, caught-up, split-brain, problem, primary-lost.', ['event', 'alias']);
  const failovers = counter('failovers_total', 'Times the primary changed to another node.', []);
  const health = options.health ?? (cluster as { health?: EventEmitter }).health;
  const listeners: [string, (...args: unknown[]) => void][] = [];
  if (health !== undefined) {
    for (const event of HEALTH_EVENTS) {
      listeners.push([event, (e: unknown) => events.inc(l({ event, alias: aliasOf(e) }))]);
    }
    listeners.push(['primary-changed', (e: unknown) => {
      if ((e as { from?: unknown }).from !== undefined) failovers.inc(l({}));
    }]);
    for (const [event, fn] of listeners) health.on(event, fn);
  }

  return {
    names,
    unregister(): void {
      for (const name of names) registry.removeSingleMetric(name);
      if (health !== undefined) for (const [event, fn] of listeners) health.off(event, fn);
    },
  };
}

/** The replica's distance in position units; 0 when it is known to have everything (no time lag). */
function positionLag(n: HealthStatus['nodes'][number]): number | undefined {
  return n.lagPosition ?? (n.lagMillis === 0 ? 0 : undefined);
}

function setKnown(g: Gauge, labels: Record<string, string>, value: number | undefined): void {
  if (value !== undefined) g.set(labels, value);
}

function aliasOf(e: unknown): string {
  const alias = typeof e === 'object' && e !== null ? (e as { alias?: unknown }).alias : undefined;
  return typeof alias === 'string' ? alias : '';
}

function checkOptions(options: MetricsOptions): void {
  if (typeof options !== 'object' || options === null) throw new DbRouterError('CONFIG_INVALID', 'registerMetrics(cluster, options): options must be an object.');
  const known = ['registry', 'prefix', 'labels', 'health'];
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new DbRouterError('CONFIG_INVALID', `registerMetrics(): unknown option "${key}"; known options: ${known.join(', ')}.`);
  }
  if (options.prefix !== undefined && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(options.prefix)) {
    throw new DbRouterError('CONFIG_INVALID', `registerMetrics(): prefix "${options.prefix}" is not a valid start of a Prometheus metric name (letters, digits, _ and :).`);
  }
  if (options.registry !== undefined && !(options.registry instanceof Registry)) {
    throw new DbRouterError('CONFIG_INVALID', 'registerMetrics(): registry must be a prom-client Registry (from the same prom-client your app imports).');
  }
  for (const [k, v] of Object.entries(options.labels ?? {})) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k) || typeof v !== 'string') {
      throw new DbRouterError('CONFIG_INVALID', `registerMetrics(): labels.${k} must be a string under a valid label name.`);
    }
  }
}
