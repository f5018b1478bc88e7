import type { Cluster } from '../cluster/cluster.js';
import { INTERNALS } from '../routing/contracts.js';
import type { RouteEvent } from '../cluster/stats.js';
import type { ClusterHealth } from '../health/cluster-health.js';
import type { HealthMonitorEvents } from '../health/monitor.js';

/** One node as the page draws it. */
export interface DashboardNode {
  /** The node's alias, as in the cluster's `databases`. */
  readonly alias: string;
  /** URL without password. */
  readonly url: string;
  /** The role routing uses now (the health monitor's report when the cluster has none yet); `undefined` when unknown. */
  readonly role: 'primary' | 'replica' | undefined;
  /** `up`, `lagging` or `down`, from the health monitor when there is one, else the cluster's own view. */
  readonly state: 'up' | 'lagging' | 'down';
  /** Serves reads now (replicas), takes writes now (the primary). */
  readonly inRotation: boolean;
  /** Replication lag in milliseconds, rounded (0 on the primary); `null` without a health monitor or when unknown. */
  readonly lagMillis: number | null;
  /** Replay (PostgreSQL) or the SQL thread (MariaDB) is stopped; `null` without a health monitor or before a good check. */
  readonly paused: boolean | null;
  /** Round trip of the last health check's query in milliseconds (one decimal); `null` without a health monitor or before a good check. */
  readonly rttMillis: number | null;
}

/** One recent statement: its text only, never its parameters. */
export interface DashboardStatement {
  /** `Date.now()` when it finished. */
  readonly at: number;
  /** Its text, cut to 300 characters (then ending in `…`). */
  readonly sql: string;
  /** The node it ran on. */
  readonly alias: string;
  /** That node's role when it ran (`primary` or `replica`). */
  readonly role: string;
  /** Why it went there (`select`, `insert`, `sticky`, …). */
  readonly reason: string;
  /** Wall time from sending to its result, in milliseconds to one decimal. */
  readonly durationMillis: number;
  /** It failed (the error went to the caller). */
  readonly failed: boolean;
  /** A replica refused it as a write and it was re-run on the primary. */
  readonly misroute: boolean;
}

/** What `GET <mount>/state` answers: everything the page draws. JSON-safe, no credential. */
export interface DashboardState {
  /** The server: `PostgreSQL`, `MySQL`, or `MariaDB` once the first node's `SELECT VERSION()` said so. */
  readonly engine: string;
  /** `Date.now()` when this state was built. */
  readonly now: number;
  /** The alias taking writes now; `null` when none is available. Without a health monitor, the configured primary. */
  readonly primary: string | null;
  /** Every node of the cluster, in configuration order. */
  readonly nodes: readonly DashboardNode[];
  /** Replication lag per replica over time, oldest first; `null` where unknown or down. */
  readonly lag: readonly {
    /** `Date.now()` of the sample (one per `sampleIntervalMillis`, kept for `historyMillis`). */
    readonly at: number;
    /** Lag in milliseconds by replica alias. */
    readonly millis: Readonly<Record<string, number | null>>;
  }[];
  /** Statement counters by alias since the cluster was created (or its stats were reset). */
  readonly routed: Readonly<Record<string, {
    /** Statements the alias ran. */
    readonly statements: number;
    /** Of those, statements that had to run on a primary. */
    readonly writes: number;
    /** Statements by routing reason. */
    readonly byReason: Readonly<Record<string, number>>;
  }>>;
  /** The most recent statements (at most `recentStatements`), newest first. */
  readonly recent: readonly DashboardStatement[];
  /** The last 50 topology events (node down/up, lagging, primary changes, controls), newest first. */
  readonly events: readonly {
    /** `Date.now()` when it happened. */
    readonly at: number;
    /** What happened, in words. */
    readonly text: string;
  }[];
  /** Whether the control endpoints are on (a local cluster and `controls: true`). */
  readonly controls: boolean;
}

const MAX_SQL = 300;

/**
 * Listens to a cluster (`'route'`, `'nodeState'`) and its health monitor, and keeps what the
 * dashboard shows: lag samples over a window, the most recent statements, topology events.
 */
export class DashboardCollector {
  readonly #cluster: Cluster;
  readonly #health: ClusterHealth | undefined;
  readonly #recent: DashboardStatement[] = [];
  readonly #events: { at: number; text: string }[] = [];
  readonly #lag: { at: number; millis: Record<string, number | null> }[] = [];
  readonly #maxRecent: number;
  readonly #historyMillis: number;
  readonly #detach: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  controls = false;

  #engineLabel: string;

  // One cluster engine, 'mysql', serves MySQL and MariaDB: show the server as it is, asked once.
  #detectServer(): void {
    const cx = this.#cluster[INTERNALS];
    const node = cx.nodes[0];
    if (node === undefined) return;
    cx.engine.queryOnce(node.connection, 'SELECT VERSION() AS v').then((rows) => {
      const version = rows[0]?.v;
      if (typeof version === 'string' && /mariadb/i.test(version)) this.#engineLabel = 'MariaDB';
    }, () => {
      // unreachable now: keep the generic name
    });
  }

  constructor(cluster: Cluster, options: { health?: ClusterHealth | undefined; sampleIntervalMillis: number; historyMillis: number; recentStatements: number }) {
    this.#cluster = cluster;
    this.#health = options.health;
    this.#engineLabel = cluster.engine === 'postgres' ? 'PostgreSQL' : 'MySQL';
    if (cluster.engine === 'mysql') this.#detectServer();
    this.#maxRecent = options.recentStatements;
    this.#historyMillis = options.historyMillis;
    const onRoute = (e: RouteEvent): void => {
      this.#recent.push({
        at: e.at, sql: e.sql.length > MAX_SQL ? `${e.sql.slice(0, MAX_SQL)}…` : e.sql, alias: e.alias, role: e.role,
        reason: e.reason, durationMillis: Math.round(e.durationMillis * 10) / 10, failed: e.failed, misroute: e.misroute,
      });
      if (this.#recent.length > this.#maxRecent) this.#recent.splice(0, this.#recent.length - this.#maxRecent);
    };
    cluster.on('route', onRoute);
    this.#detach.push(() => cluster.off('route', onRoute));
    if (this.#health) this.#listen(this.#health);
    this.#timer = setInterval(() => this.#sample(), options.sampleIntervalMillis);
    this.#timer.unref();
    this.#sample();
  }

  #listen(health: ClusterHealth): void {
    const texts: { [K in keyof HealthMonitorEvents]?: (...a: HealthMonitorEvents[K]) => string } = {
      'node-down': (e) => `${e.alias} is down`,
      'node-up': (e) => `${e.alias} is up again`,
      lagging: (e) => `${e.alias} is lagging (${e.lagMillis === undefined ? 'replay stopped' : `${Math.round(e.lagMillis)} ms`}): reads leave it`,
      'caught-up': (e) => `${e.alias} caught up: back in reads`,
      'primary-lost': (e) => `primary ${e.alias ?? ''} lost: writes wait for a new primary`,
      'primary-changed': (e) => (e.from === undefined ? `primary is ${e.to}` : `primary changed: ${e.from} → ${e.to}`),
      'split-brain': (e) => `split brain: ${e.aliases.join(' and ')} both say they are primary; writes refused`,
    };
    for (const [name, text] of Object.entries(texts)) {
      const listener = (...args: unknown[]): void => this.#event((text as (...a: unknown[]) => string)(...args));
      health.on(name as 'node-up', listener);
      this.#detach.push(() => health.off(name as 'node-up', listener));
    }
  }

  #event(text: string): void {
    this.#events.push({ at: Date.now(), text });
    if (this.#events.length > 50) this.#events.shift();
  }

  #sample(): void {
    const millis: Record<string, number | null> = {};
    for (const n of this.nodes()) if (n.role === 'replica') millis[n.alias] = n.state === 'down' ? null : n.lagMillis;
    const now = Date.now();
    this.#lag.push({ at: now, millis });
    while (this.#lag.length > 1 && this.#lag[0]!.at < now - this.#historyMillis) this.#lag.shift();
  }

  nodes(): DashboardNode[] {
    const described = this.#cluster.describe();
    let st;
    try {
      st = this.#health?.status();
    } catch {
      st = undefined; // not started yet
    }
    const byAlias = new Map(st?.nodes.map((n) => [n.alias, n]));
    return described.map((d) => {
      const h = byAlias.get(d.alias);
      // The cluster's own role is what routing uses (watchCluster keeps it in step); a dead old
      // primary's last report would still say primary.
      const role = d.role ?? h?.role;
      const state = h ? (h.state === 'down' || h.suspect ? 'down' : h.lagging && role === 'replica' ? 'lagging' : 'up') : d.state;
      return {
        alias: d.alias,
        url: d.url,
        role,
        state,
        inRotation: st ? (role === 'primary' ? st.primary === d.alias && st.primaryAvailable : h?.inRotation === true) : d.state === 'up',
        lagMillis: h?.lagMillis === undefined ? null : Math.round(h.lagMillis),
        paused: h?.paused ?? null,
        rttMillis: h?.rttMillis === undefined ? null : Math.round(h.rttMillis * 10) / 10,
      };
    });
  }

  state(): DashboardState {
    const nodes = this.nodes();
    let primary: string | null;
    try {
      const st = this.#health?.status();
      // Without a health monitor the configured primary is all there is to show.
      primary = st ? (st.primaryAvailable ? (st.primary ?? null) : null) : (nodes.find((n) => n.role === 'primary')?.alias ?? null);
    } catch {
      primary = null;
    }
    const stats = this.#cluster.stats();
    const routed = Object.fromEntries(Object.entries(stats.byAlias).map(([alias, s]) => [alias, { statements: s.statements, writes: s.writes, byReason: s.byReason }]));
    return {
      engine: this.#engineLabel,
      now: Date.now(),
      primary,
      nodes,
      lag: [...this.#lag],
      routed,
      recent: [...this.#recent].reverse(),
      events: [...this.#events].reverse(),
      controls: this.controls,
    };
  }

  /** Records a control the page triggered, so it shows in the event list. */
  note(text: string): void {
    this.#event(text);
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const d of this.#detach.splice(0)) d();
  }
}
