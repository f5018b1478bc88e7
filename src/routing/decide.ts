import { DbRouterError } from '../errors.js';
import type { Classification } from '../sql/types.js';
import { readOnlyRefusal, readOnlyRefuses } from './read-only.js';
import { routerName, type Hints, type NodeInfo, type RouteContext, type Router } from './router.js';
import type { ScopeFrame } from './scopes.js';
import type { Topology } from './topology.js';

/** Where one statement runs and why. */
export interface RouteDecision {
  /** The node that runs the statement. */
  readonly node: NodeInfo;
  /**
   * Why: the classifier's reason (`select`, `insert`, `write-cte`, …) unless routing overrode it:
   * `pinned`, `scope-primary`, `scope-replica`, `using`, `write-in-replica-scope`,
   * `no-replica-available`, `replica-refused-by-gate`, `replica-unavailable`; and on a checked-out
   * client `sticky` (bound to the primary) or `transaction`.
   */
  readonly reason: string;
  /** How the classifier read the statement. */
  readonly classification: Classification;
  /** The statement writes or changes session state (it must run on a primary). */
  readonly write: boolean;
  /**
   * Time spent before the statement could be sent: waiting for a primary (failover) or finding a
   * replica that has a read-your-writes position. Measured only when someone times statements.
   */
  readonly waitedMillis?: number;
}

/** The router chain split by method once, so a decision skips routers with no opinion on it. */
export class RouterChain {
  readonly routers: readonly Router[];
  readonly readers: readonly Router[];
  readonly writers: readonly Router[];
  readonly relators: readonly Router[];
  readonly migrators: readonly Router[];
  constructor(routers: readonly Router[]) {
    this.routers = Object.freeze([...routers]);
    this.readers = this.routers.filter((r) => typeof r.dbForRead === 'function');
    this.writers = this.routers.filter((r) => typeof r.dbForWrite === 'function');
    this.relators = this.routers.filter((r) => typeof r.allowRelation === 'function');
    this.migrators = this.routers.filter((r) => typeof r.allowMigrate === 'function');
  }
}

const NO_HINTS: Hints = Object.freeze({});

/** A statement that must run on a primary: it writes, locks, or changes session or transaction state. */
export function isWrite(c: Classification): boolean {
  return c.target === 'primary' || c.effect === 'session' || (c.effect === 'begin' && !c.readOnly);
}

function answer(t: Topology, r: Router, method: string, alias: unknown): NodeInfo {
  const node = typeof alias === 'string' ? t.node(alias) : undefined;
  if (node === undefined) {
    const known = t.nodes.map((n) => n.alias).join(', ');
    throw new DbRouterError(
      'ROUTER_ERROR',
      `Router "${routerName(r)}" answered ${JSON.stringify(alias)} from ${method}, but the cluster has no such alias (known: ${known}). Return one of those, or undefined for no opinion.`,
    );
  }
  return node;
}

function call<T>(r: Router, method: string, fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    if (cause instanceof DbRouterError) throw cause;
    throw new DbRouterError('ROUTER_ERROR', `Router "${routerName(r)}" threw in ${method}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

function writeTarget(t: Topology, chain: RouterChain, ctx: RouteContext): { node: NodeInfo; router: Router | undefined } {
  const writers = chain.writers;
  for (let i = 0; i < writers.length; i++) {
    const r = writers[i]!;
    const a = call(r, 'dbForWrite', () => r.dbForWrite!(ctx));
    if (a !== undefined) return { node: answer(t, r, 'dbForWrite', a), router: r };
  }
  return { node: t.primary, router: undefined };
}

function checkRelations(chain: RouterChain, ctx: RouteContext): void {
  const tables = ctx.tables;
  for (let i = 0; i < tables.length; i++) {
    for (let j = i + 1; j < tables.length; j++) {
      const a = tables[i]!;
      const b = tables[j]!;
      if (a === b) continue;
      for (const r of chain.relators) {
        const ok = call(r, 'allowRelation', () => r.allowRelation!(a, b, ctx));
        if (ok === undefined) continue;
        if (!ok) {
          throw new DbRouterError(
            'CROSS_DATABASE_RELATION',
            `Router "${routerName(r)}" refuses a statement relating tables "${a}" and "${b}": they live in different databases${describeHomes(ctx, r, a, b)}. Split the statement, or route both tables to one alias.`,
          );
        }
        break;
      }
    }
  }
}

function describeHomes(ctx: RouteContext, r: Router, a: string, b: string): string {
  const home = (r as { aliasFor?: (table: string) => string | undefined }).aliasFor;
  if (typeof home !== 'function') return '';
  return ` ("${a}" in ${home.call(r, a) ?? 'the default database'}, "${b}" in ${home.call(r, b) ?? 'the default database'})`;
}

function decision(node: NodeInfo, reason: string, c: Classification, write: boolean): RouteDecision {
  return { node, reason, classification: c, write };
}

/**
 * The one routing decision, engine-independent: pin, then scope, then the router chain, then the
 * fallbacks (a replica the gates accept for a read, the primary for a write). Forcing a replica
 * never sends a write there.
 */
export function decide(
  t: Topology,
  chain: RouterChain,
  sql: string,
  c: Classification,
  scope: ScopeFrame | undefined,
  pin: NodeInfo | undefined,
): RouteDecision {
  const write = isWrite(c);
  if (scope?.readOnly === true && readOnlyRefuses(c)) throw readOnlyRefusal(c);
  if (pin !== undefined) return decision(pin, 'pinned', c, write);
  const ctx: RouteContext = { sql, classification: c, tables: c.tables, hints: scope?.hints ?? NO_HINTS, cluster: t };
  if (chain.relators.length > 0 && c.tables.length > 1) checkRelations(chain, ctx);

  if (scope !== undefined && scope.mode !== 'auto') {
    switch (scope.mode) {
      case 'primary':
        return decision(writeTarget(t, chain, ctx).node, 'scope-primary', c, write);
      case 'replica': {
        if (write) return decision(writeTarget(t, chain, ctx).node, 'write-in-replica-scope', c, write);
        const r = t.pickReplica(ctx, 'random');
        return r !== undefined ? decision(r, 'scope-replica', c, write) : decision(t.primary, 'no-replica-available', c, write);
      }
      case 'alias': {
        const n = scope.alias === undefined ? undefined : t.node(scope.alias);
        if (n !== undefined) {
          if (write && n.role === 'replica') return decision(writeTarget(t, chain, ctx).node, 'write-in-replica-scope', c, write);
          return decision(n, 'using', c, write);
        }
        break;
      }
    }
  }

  if (write) {
    const w = writeTarget(t, chain, ctx);
    return decision(w.node, c.reason, c, write);
  }
  const readers = chain.readers;
  for (let i = 0; i < readers.length; i++) {
    const r = readers[i]!;
    const a = call(r, 'dbForRead', () => r.dbForRead!(ctx));
    if (a === undefined) continue;
    const n = answer(t, r, 'dbForRead', a);
    if (n.role === 'primary' || t.vetted(n, ctx) || t.accepts(n, ctx)) return decision(n, c.reason, c, write);
    return decision(t.primary, t.isAvailable(n.alias) ? 'replica-refused-by-gate' : 'replica-unavailable', c, write);
  }
  const r = t.pickReplica(ctx, 'random');
  return r !== undefined ? decision(r, c.reason, c, write) : decision(t.primary, 'no-replica-available', c, write);
}
