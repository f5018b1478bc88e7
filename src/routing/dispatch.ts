import { DbRouterError } from '../errors.js';
import type { ClusterInternals } from './contracts.js';
import type { Classification } from '../sql/types.js';
import type { RouteDecision } from './decide.js';
import type { NodeInfo } from './router.js';
import { withFrame, type ScopeFrame } from './scopes.js';

/**
 * How a routed pool reaches its nodes' real pools: the only driver-specific part of running a
 * statement. `A` is the driver's query arguments, `R` its result, `C` a checked-out connection.
 */
export interface NodeRunner<A, R, C> {
  query(index: number, args: A): Promise<R>;
  acquire(index: number): Promise<C>;
  queryOn(conn: C, args: A): Promise<R>;
  release(conn: C, err?: unknown): void;
  /** One plain statement on a node, rows as objects (for write hooks). */
  rows(index: number, sql: string): Promise<readonly Record<string, unknown>[]>;
}

/** Primary-only statements that change no data: no consistency token needed after them. */
const NO_DATA_CHANGE = new Set(['savepoint', 'session-function', 'cursor', 'primary-status', 'row-lock', 'lock-function']);

/** A statement that changed data (not only session state): worth a consistency token. */
function wroteData(c: Classification): boolean {
  return c.target === 'primary' && c.effect === 'none' && !NO_DATA_CHANGE.has(c.reason);
}

/**
 * The seams' last word on a decision, before anything runs: with a health monitor a write first
 * waits for a primary (`beforeWrite`); the consistency layer may move a read (`beforeRead`).
 * Synchronous (no promise) when neither has anything to do: the hot path.
 */
export function prepare<A, R, C>(cx: ClusterInternals, runner: NodeRunner<A, R, C>, sql: string, d: RouteDecision, retried = false): RouteDecision | Promise<RouteDecision> {
  if (d.reason === 'pinned') return d;
  if (d.write) {
    const wait = cx.beforeWrite();
    return wait === undefined ? d : wait.then(() => cx.route(sql, d.classification));
  }
  if (retried) return d;
  return cx.beforeRead(sql, d, runner) ?? d;
}

/** Counts the statement in flight on its node; returns its start time (0 when nobody times). */
export function started(cx: ClusterInternals, d: RouteDecision): number {
  cx.counters.inFlight[d.node.index]!++;
  return cx.timing ? performance.now() : 0;
}

/**
 * Runs one statement where `d` says, one-shot on that node's pool. The safety net: a write that a
 * replica refuses as read-only is re-run once on the primary, counted as a misroute, and the
 * caller sees the primary's result. A connection error may be retried once on a re-routed node
 * (health monitor). Written with `then`, not `async`: on the hot path each async layer and each
 * stack frame under the driver's call (mysql2 captures a stack per query) is a measurable share
 * of a round trip; the routed pools call the node pool from their own frame and use `settle`.
 */
export function dispatch<A, R, C>(
  cx: ClusterInternals,
  runner: NodeRunner<A, R, C>,
  sql: string,
  args: A,
  d: RouteDecision,
  onMisroute?: (primary: NodeInfo) => void,
  retried = false,
): Promise<R> {
  const ready = prepare(cx, runner, sql, d, retried);
  if (ready instanceof Promise) return ready.then((f) => runPrepared(cx, runner, sql, args, f, onMisroute, retried));
  return runPrepared(cx, runner, sql, args, ready, onMisroute, retried);
}

/** `dispatch` after `prepare`. */
export function runPrepared<A, R, C>(
  cx: ClusterInternals,
  runner: NodeRunner<A, R, C>,
  sql: string,
  args: A,
  d: RouteDecision,
  onMisroute?: (primary: NodeInfo) => void,
  retried = false,
): Promise<R> {
  const t0 = started(cx, d);
  return settle(cx, runner, sql, args, d, t0, runner.query(d.node.index, args), onMisroute, retried);
}

/**
 * `settle` for a driver's callback API: the routed pool hands the caller one promise it resolves
 * here, so the result passes through no extra promise at all (what the raw driver's own promise
 * API costs). Errors take `settle`'s path: they are rare. Used only when nobody listens to
 * `'route'` (listeners run in the caller's async context, which a driver callback does not have).
 */
export function finish<A, R, C>(
  cx: ClusterInternals,
  runner: NodeRunner<A, R, C>,
  sql: string,
  args: A,
  d: RouteDecision,
  t0: number,
  frame: ScopeFrame | undefined,
  err: unknown,
  result: R,
  resolve: (r: R) => void,
  reject: (e: unknown) => void,
): void {
  // The driver calls back in its own async context: what follows and depends on the caller's
  // (write hooks, the safety net's re-run) runs in the caller's scope, captured at the call.
  if (err !== undefined && err !== null) {
    withFrame(frame, () => void settle(cx, runner, sql, args, d, t0, Promise.reject(err as Error)).then(resolve, reject));
    return;
  }
  const node = d.node;
  cx.counters.inFlight[node.index]!--;
  cx.record(node, sql, d.reason, d.write, t0, false, false);
  if (cx.hasWriteHooks && node.role === 'primary' && wroteData(d.classification)) {
    withFrame(frame, () => {
      const p = cx.afterWrite(node, sql, d.classification, 'statement', (q) => runner.rows(node.index, q));
      if (p !== undefined) p.then(() => resolve(result), reject);
      else resolve(result);
    });
    return;
  }
  resolve(result);
}

/** What happens once the node answered `pending` (started with `started`): stats, hooks, safety net, retry. */
export function settle<A, R, C>(
  cx: ClusterInternals,
  runner: NodeRunner<A, R, C>,
  sql: string,
  args: A,
  d: RouteDecision,
  t0: number,
  pending: Promise<R>,
  onMisroute?: (primary: NodeInfo) => void,
  retried = false,
): Promise<R> {
  const node = d.node;
  const inFlight = cx.counters.inFlight;
  return pending.then(
    (result) => {
      inFlight[node.index]!--;
      cx.record(node, sql, d.reason, d.write, t0, false, false);
      if (cx.hasWriteHooks && node.role === 'primary' && wroteData(d.classification)) {
        const p = cx.afterWrite(node, sql, d.classification, 'statement', (q) => runner.rows(node.index, q));
        if (p !== undefined) return p.then(() => result);
      }
      return result;
    },
    (err: unknown) => {
      inFlight[node.index]!--;
      if (node.role === 'replica' && cx.engine.isReadOnlyError(err)) {
        onMisroute?.(cx.primary());
        return misrouted(cx, runner, sql, args, d, t0);
      }
      cx.record(node, sql, d.reason, d.write, t0, false, true);
      if (!retried && d.reason !== 'pinned' && cx.engine.isConnectionError(err) && cx.connectionError(node, err, d.write)) {
        const again = d.write ? d : cx.route(sql, d.classification);
        if (d.write || again.node.index !== node.index) return dispatch(cx, runner, sql, args, again, onMisroute, true);
      }
      throw err;
    },
  );
}

function misrouted<A, R, C>(cx: ClusterInternals, runner: NodeRunner<A, R, C>, sql: string, args: A, d: RouteDecision, t0: number): Promise<R> {
  const primary = cx.primary();
  const inFlight = cx.counters.inFlight;
  inFlight[primary.index]!++;
  return runner.query(primary.index, args).then(
    (result) => {
      inFlight[primary.index]!--;
      cx.record(primary, sql, d.reason, true, t0, true, false);
      if (cx.hasWriteHooks) {
        const p = cx.afterWrite(primary, sql, d.classification, 'statement', (q) => runner.rows(primary.index, q));
        if (p !== undefined) return p.then(() => result);
      }
      return result;
    },
    (err: unknown) => {
      inFlight[primary.index]!--;
      cx.record(primary, sql, d.reason, true, t0, true, true);
      throw err;
    },
  );
}

/**
 * `SET TRANSACTION … READ ONLY` (not SESSION, not SERIALIZABLE, which a PostgreSQL standby
 * refuses): the next transaction only reads. Kysely on MySQL sends it before `begin`.
 */
const NEXT_TX_READ_ONLY = /^\s*set\s+transaction\b(?![^;]*\bserializable\b)[^;]*\bread\s+only\b[^;]*;?\s*$/i;

/** How `SET TRANSACTION … READ ONLY` is routed: as the read-only BEGIN it announces. */
const READ_ONLY_NEXT: Classification = Object.freeze({
  target: 'replica',
  reason: 'transaction-read-only',
  verb: 'SET',
  effect: 'begin',
  readOnly: true,
  tables: Object.freeze([]),
});

const FREE = 0;
const STICKY = 1;
const READ_ONLY_TX = 2;

/**
 * A checked-out client's binding, engine-independent. It binds lazily: outside a transaction a
 * read runs one-shot where the routers say (a replica); once the client writes, opens a
 * transaction or changes session state, it holds a primary connection until released.
 * `BEGIN READ ONLY` binds to the chosen node (a replica) for that transaction only.
 */
export class Binding<A, R, C> {
  readonly #cx: ClusterInternals;
  readonly #runner: NodeRunner<A, R, C>;
  readonly #pinned: NodeInfo | undefined;
  #mode = FREE;
  #node: NodeInfo | undefined;
  #conn: C | undefined;
  #inTx = false;
  #txWrote = false;
  #released = false;

  constructor(cx: ClusterInternals, runner: NodeRunner<A, R, C>, pinned?: NodeInfo) {
    this.#cx = cx;
    this.#runner = runner;
    this.#pinned = pinned;
  }

  get released(): boolean {
    return this.#released;
  }

  /** The alias this client holds a connection to, if any. */
  get boundAlias(): string | undefined {
    return this.#mode === FREE ? undefined : this.#node?.alias;
  }

  // Not async: a free client's read is the hot path of ORMs that check out a client per query.
  query(sql: string, args: A): Promise<R> {
    if (this.#released) return Promise.reject(new DbRouterError('CLIENT_RELEASED', 'This client was released to the pool; check out a new one with connect()/getConnection().'));
    const cx = this.#cx;
    if (!cx.isReady) return cx.ready().then(() => this.query(sql, args));
    try {
      const c = cx.classify(sql);
      // `SET TRANSACTION … READ ONLY` held a replica for the next transaction; anything but a BEGIN
      // next lets it go and is routed afresh.
      if (this.#mode === READ_ONLY_TX && !this.#inTx && c.effect !== 'begin') this.#unbind();
      if (this.#mode !== FREE) return this.#runBound(sql, args, c);
      const nextReadOnly = this.#pinned === undefined && NEXT_TX_READ_ONLY.test(sql);
      const d: RouteDecision = this.#pinned !== undefined
        ? { node: this.#pinned, reason: 'pinned', classification: c, write: true }
        : cx.route(sql, nextReadOnly ? READ_ONLY_NEXT : c);
      if (d.write && d.reason !== 'pinned') {
        const wait = cx.beforeWrite();
        if (wait !== undefined) return wait.then(() => this.#free(sql, args, c, cx.route(sql, c), nextReadOnly));
      }
      return this.#free(sql, args, c, d, nextReadOnly);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  #free(sql: string, args: A, c: Classification, d: RouteDecision, nextReadOnly: boolean): Promise<R> {
    if (d.reason === 'pinned') this.#bind(d.node, STICKY);
    else if (nextReadOnly) this.#bind(d.node, d.node.role === 'replica' ? READ_ONLY_TX : STICKY);
    else if (c.effect === 'begin') this.#bind(d.node, d.write ? STICKY : READ_ONLY_TX);
    else if (d.write) this.#bind(d.node, STICKY);
    // A misrouted read wrote on the primary: the client stays there, as after any write.
    else return dispatch(this.#cx, this.#runner, sql, args, d, (primary) => this.#bind(primary, STICKY));
    return this.#runBound(sql, args, c);
  }

  #bind(node: NodeInfo, mode: number): void {
    this.#node = node;
    this.#mode = mode;
  }

  async #runBound(sql: string, args: A, c: Classification): Promise<R> {
    const cx = this.#cx;
    const node = this.#node!;
    if (this.#conn === undefined) {
      try {
        this.#conn = await this.#runner.acquire(node.index);
      } catch (err) {
        this.#mode = FREE;
        this.#node = undefined;
        if (cx.engine.isConnectionError(err)) cx.connectionError(node, err, true);
        throw err;
      }
    }
    const begins = c.effect === 'begin';
    const reason = this.#inTx || begins ? 'transaction' : this.#pinned !== undefined ? 'pinned' : 'sticky';
    const write = c.target === 'primary';
    const t0 = cx.timing ? performance.now() : 0;
    const inFlight = cx.counters.inFlight;
    inFlight[node.index]!++;
    let result: R;
    try {
      result = await this.#runner.queryOn(this.#conn, args);
    } catch (err) {
      inFlight[node.index]!--;
      cx.record(node, sql, reason, write, t0, false, true);
      if (cx.engine.isConnectionError(err)) cx.connectionError(node, err, true);
      if (this.#mode === READ_ONLY_TX && !this.#inTx) this.#unbind();
      throw err;
    }
    inFlight[node.index]!--;
    cx.record(node, sql, reason, write, t0, false, false);
    if (begins) {
      this.#inTx = true;
      this.#txWrote = false;
    } else if (c.effect === 'end') {
      const wrote = this.#inTx && this.#txWrote;
      this.#inTx = false;
      this.#txWrote = false;
      if (this.#mode === READ_ONLY_TX) this.#unbind();
      if (wrote && cx.hasWriteHooks && node.role === 'primary') {
        const p = cx.afterWrite(node, sql, c, 'commit', (q) => this.#runner.rows(node.index, q));
        if (p !== undefined) await p;
      }
    } else if (wroteData(c)) {
      if (this.#inTx) this.#txWrote = true;
      else if (cx.hasWriteHooks && node.role === 'primary') {
        const p = cx.afterWrite(node, sql, c, 'statement', (q) => this.#runner.rows(node.index, q));
        if (p !== undefined) await p;
      }
    }
    return result;
  }

  #unbind(): void {
    const conn = this.#conn;
    this.#conn = undefined;
    this.#mode = FREE;
    this.#node = undefined;
    if (conn !== undefined) this.#runner.release(conn);
  }

  /** Gives the held connection (if any) back to its node's pool. A second call throws `CLIENT_RELEASED`. */
  release(err?: unknown): void {
    if (this.#released) throw new DbRouterError('CLIENT_RELEASED', 'release() was called twice on the same client; release each checked-out client once.');
    this.#released = true;
    const conn = this.#conn;
    this.#conn = undefined;
    this.#mode = FREE;
    if (conn !== undefined) this.#runner.release(conn, err);
  }
}
