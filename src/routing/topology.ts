import { DbRouterError } from '../errors.js';
import type { NodeInfo, ReplicaStrategy, Role, RouteContext, RoutingView } from './router.js';

/** A node's availability as the health monitor sees it. Only `up` nodes serve reads. */
export type NodeState = 'up' | 'down' | 'lagging';

/**
 * A consistency layer's veto on a replica for one read: return `false` and the read goes elsewhere
 * (another replica, else the primary). Called only for replicas, on the hot path: keep it cheap.
 */
export type ReadGate = (alias: string, ctx: RouteContext) => boolean;

const STATE_CODES: Readonly<Record<NodeState, number>> = { up: 0, down: 1, lagging: 2 };
const STATE_NAMES: readonly NodeState[] = ['up', 'down', 'lagging'];

/** Per-node live counters, shared by every topology a cluster builds (a rebuild keeps them). */
export class NodeCounters {
  readonly state: Uint8Array;
  readonly inFlight: Int32Array;
  constructor(size: number) {
    this.state = new Uint8Array(size);
    this.inFlight = new Int32Array(size);
  }
  set(index: number, s: NodeState): void {
    this.state[index] = STATE_CODES[s];
  }
  get(index: number): NodeState {
    return STATE_NAMES[this.state[index] ?? 0] ?? 'up';
  }
}

/**
 * The nodes with known roles, precomputed once (lists, weights, alias lookup) so that a routing
 * decision allocates nothing proportional to the number of replicas.
 */
export class Topology implements RoutingView {
  readonly nodes: readonly NodeInfo[];
  readonly primaries: readonly NodeInfo[];
  readonly replicas: readonly NodeInfo[];
  readonly primary: NodeInfo;
  readonly #byAlias: ReadonlyMap<string, NodeInfo>;
  readonly #counters: NodeCounters;
  readonly #gates: readonly ReadGate[];
  readonly #cumulative: Float64Array;
  readonly #totalWeight: number;
  #rr = 0;

  constructor(nodes: readonly { alias: string; role: Role; weight: number }[], counters: NodeCounters, gates: readonly ReadGate[]) {
    this.nodes = Object.freeze(nodes.map((n, index) => Object.freeze({ alias: n.alias, role: n.role, weight: n.weight, index })));
    this.primaries = Object.freeze(this.nodes.filter((n) => n.role === 'primary'));
    this.replicas = Object.freeze(this.nodes.filter((n) => n.role === 'replica'));
    const primary = this.primaries.find((n) => n.alias === 'default') ?? this.primaries[0];
    if (primary === undefined) {
      throw new DbRouterError(
        'CONFIG_INVALID',
        `No database in the cluster is a primary (${this.nodes.map((n) => `${n.alias}: ${n.role}`).join(', ')}): give one alias role: 'primary', or leave its role out to ask the server.`,
      );
    }
    this.primary = primary;
    this.#byAlias = new Map(this.nodes.map((n) => [n.alias, n]));
    this.#counters = counters;
    this.#gates = gates;
    this.#cumulative = new Float64Array(this.replicas.length);
    let total = 0;
    this.replicas.forEach((r, i) => {
      total += r.weight;
      this.#cumulative[i] = total;
    });
    this.#totalWeight = total;
  }

  node(alias: string): NodeInfo | undefined {
    return this.#byAlias.get(alias);
  }

  isAvailable(alias: string): boolean {
    const n = this.#byAlias.get(alias);
    return n !== undefined && this.#counters.state[n.index] === 0;
  }

  inFlight(alias: string): number {
    const n = this.#byAlias.get(alias);
    return n === undefined ? 0 : (this.#counters.inFlight[n.index] ?? 0);
  }

  accepts(node: NodeInfo, ctx: RouteContext): boolean {
    if (this.#counters.state[node.index] !== 0) return false;
    if (node.role === 'primary') return true;
    const gates = this.#gates;
    for (let i = 0; i < gates.length; i++) if (!gates[i]!(node.alias, ctx)) return false;
    return true;
  }

  /**
   * Whether `node` is what a picker of this view returned for this very `ctx`: already accepted,
   * so the decision need not ask the gates twice.
   */
  vetted(node: NodeInfo, ctx: RouteContext): boolean {
    return this.#vettedCtx === ctx && this.#vettedNode === node;
  }

  #vettedCtx: RouteContext | undefined;
  #vettedNode: NodeInfo | undefined;

  #vet(node: NodeInfo | undefined, ctx: RouteContext): NodeInfo | undefined {
    this.#vettedCtx = ctx;
    this.#vettedNode = node;
    return node;
  }

  pickReplica(ctx: RouteContext, strategy: ReplicaStrategy, counter?: { n: number }): NodeInfo | undefined {
    return this.#vet(this.#pickReplica(ctx, strategy, counter), ctx);
  }

  #pickReplica(ctx: RouteContext, strategy: ReplicaStrategy, counter?: { n: number }): NodeInfo | undefined {
    const rs = this.replicas;
    const n = rs.length;
    if (n === 0) return undefined;
    let start: number;
    switch (strategy) {
      case 'round-robin':
        start = counter !== undefined ? counter.n++ % n : this.#rr++ % n;
        break;
      case 'weighted':
        start = this.#weightedIndex();
        break;
      case 'least-busy':
        return this.#leastBusy(ctx);
      default:
        start = n === 1 ? 0 : Math.floor(Math.random() * n);
    }
    for (let k = 0; k < n; k++) {
      const r = rs[(start + k) % n]!;
      if (this.accepts(r, ctx)) return r;
    }
    return undefined;
  }

  pickAny(ctx: RouteContext): NodeInfo | undefined {
    return this.#vet(this.#pickAny(ctx), ctx);
  }

  #pickAny(ctx: RouteContext): NodeInfo | undefined {
    const ns = this.nodes;
    const n = ns.length;
    const start = Math.floor(Math.random() * n);
    for (let k = 0; k < n; k++) {
      const x = ns[(start + k) % n]!;
      if (this.accepts(x, ctx)) return x;
    }
    return undefined;
  }

  pickPrimary(): NodeInfo | undefined {
    const ps = this.primaries;
    const n = ps.length;
    const start = n === 1 ? 0 : Math.floor(Math.random() * n);
    for (let k = 0; k < n; k++) {
      const p = ps[(start + k) % n]!;
      if (this.#counters.state[p.index] === 0) return p;
    }
    return undefined;
  }

  #weightedIndex(): number {
    const target = Math.random() * this.#totalWeight;
    const c = this.#cumulative;
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (c[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  #leastBusy(ctx: RouteContext): NodeInfo | undefined {
    let best: NodeInfo | undefined;
    let bestLoad = Infinity;
    const rs = this.replicas;
    // Start at a random offset so ties spread instead of piling onto the first replica.
    const n = rs.length;
    const start = n === 1 ? 0 : Math.floor(Math.random() * n);
    for (let k = 0; k < n; k++) {
      const r = rs[(start + k) % n]!;
      const load = this.#counters.inFlight[r.index] ?? 0;
      if (load < bestLoad && this.accepts(r, ctx)) [best, bestLoad] = [r, load];
    }
    return best;
  }
}
