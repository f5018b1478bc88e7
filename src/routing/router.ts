import type { Classification } from '../sql/types.js';

/** A node's role: the primary takes writes; a replica serves reads. */
export type Role = 'primary' | 'replica';

/** Caller-supplied context for routers, as Django's `hints`: `{ model: 'User' }`, anything. */
export type Hints = Readonly<Record<string, unknown>>;

/** One node as routers see it. */
export interface NodeInfo {
  /** The node's name: its key in the cluster's `databases`. */
  readonly alias: string;
  /** Its role now (the health monitor updates it after a promotion). */
  readonly role: Role;
  /** Its share of reads under the `weighted` strategy (the database's `weight`, 1 by default). */
  readonly weight: number;
  /** Position in `RoutingView.nodes`; stable for the cluster's life. */
  readonly index: number;
}

/** How a replica is chosen among the healthy ones. */
export type ReplicaStrategy = 'random' | 'round-robin' | 'weighted' | 'least-busy';

/**
 * The cluster as routers see it: precomputed node lists and the live availability, so a router
 * never allocates per statement.
 */
export interface RoutingView {
  /** Every node, in configuration order. */
  readonly nodes: readonly NodeInfo[];
  /** The nodes whose role is `primary` now. */
  readonly primaries: readonly NodeInfo[];
  /** The nodes whose role is `replica` now, available or not. */
  readonly replicas: readonly NodeInfo[];
  /** The primary that takes writes when no router says otherwise: `default` if it is a primary, else the first. */
  readonly primary: NodeInfo;
  /** The node of `alias`, `undefined` when the cluster has none of that name. */
  node(alias: string): NodeInfo | undefined;
  /** Up (not marked down or lagging by the health monitor). */
  isAvailable(alias: string): boolean;
  /** Statements running on the node now (for `least-busy`). */
  inFlight(alias: string): number;
  /**
   * Whether a node may serve this read: available, and for a replica every read gate accepts it
   * (the consistency layer's hook). Primaries are always accepted.
   */
  accepts(node: NodeInfo, ctx: RouteContext): boolean;
  /** A replica that `accepts` this read, chosen by `strategy`; `undefined` when none does. */
  pickReplica(ctx: RouteContext, strategy: ReplicaStrategy, counter?: { n: number }): NodeInfo | undefined;
  /** Any node (primaries and replicas) that `accepts` this read, at random. */
  pickAny(ctx: RouteContext): NodeInfo | undefined;
  /** An available primary at random (multi-primary writes). */
  pickPrimary(): NodeInfo | undefined;
}

/** What a router is told about one statement. */
export interface RouteContext {
  /** The statement's text (never its parameters). */
  readonly sql: string;
  /** What the classifier read from the text: target, reason, effect, tables. */
  readonly classification: Classification;
  /** Tables the statement names, lower-case, where the classifier could see them; may be empty. */
  readonly tables: readonly string[];
  /** The hints of the current scope (`cluster.withHints()`), `{}` outside any. */
  readonly hints: Hints;
  /** The cluster as routers see it. */
  readonly cluster: RoutingView;
}

/**
 * A router, as Django's: each method is optional and answers only when it has an opinion.
 * `undefined` passes the question to the next router; the first other answer wins.
 *
 * @example
 *   const analytics: Router = {
 *     name: 'analytics',
 *     dbForRead: (ctx) => (ctx.hints.report ? 'warehouse' : undefined),
 *   };
 */
export interface Router {
  /** Shown in errors; defaults to the constructor's name. */
  readonly name?: string;
  /** The alias that serves this read, or `undefined`. */
  dbForRead?(ctx: RouteContext): string | undefined;
  /** The alias that takes this write, or `undefined`. */
  dbForWrite?(ctx: RouteContext): string | undefined;
  /** Whether one statement may relate (join, reference) these two tables; `false` refuses it. */
  allowRelation?(a: string, b: string, ctx: RouteContext): boolean | undefined;
  /** Whether migrations run on this alias. */
  allowMigrate?(alias: string, ctx: MigrateContext): boolean | undefined;
}

/** What `allowMigrate` is told: the hints given to `cluster.migrate()`, and the cluster. */
export interface MigrateContext {
  /** The `hints` passed to `cluster.migrate()` (`{}` when none). */
  readonly hints: Hints;
  /** The cluster as routers see it. */
  readonly cluster: RoutingView;
}

/** A router's name for messages: its `name`, else its class's. */
export function routerName(r: Router): string {
  if (typeof r.name === 'string' && r.name !== '') return r.name;
  const c = (r as { constructor?: { name?: string } }).constructor?.name;
  return c !== undefined && c !== 'Object' ? c : 'anonymous router';
}
