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
  /**
   * `args` with a sqlcommenter comment added to the statement's text (`args` itself when there is
   * nothing to add). `make` is told whether the statement is a server-side prepared one.
   */
  comment(args: A, make: (prepared: boolean) => string | undefined): A;
  /**
   * The write's own replication position when its result carries one (MariaDB reports the GTID a
   * statement committed in its OK packet), else `undefined`: the consistency layer then asks the
   * primary once, when a read needs it. Absent: results never carry one.
   */
  position?(result: R): string | undefined;
}

/**
 * The arguments to send to `node`: with the cluster's `sqlComment` on, the statement's text
 * carries where it runs and why. Only what goes to the driver is commented; a retry elsewhere
 * starts again from the caller's `args`. A throwing comment function leaves the statement as it
 * is and reports on the cluster's `'error'`.
 */
export function tagged<A, R, C>(cx: ClusterInternals, runner: NodeRunner<A, R, C>, args: A, node: NodeInfo, reason: string, c: Classification): A {
  const commenter = cx.sqlComment;
  if (commenter === undefined) return args;
  try {
    return runner.comment(args, (prepared) => commenter(node, reason, c, prepared));
  } catch (err) {
    cx.backgroundError(err);
    return args;
  }
}

/** `d` with the time since `startedAt` spent before it could run (waiting for a primary), when someone times statements. */
function waited(d: RouteDecision, startedAt: number): RouteDecision {
  return startedAt === 0 ? d : { ...d, waitedMillis: performance.now() - startedAt + (d.waitedMillis ?? 0) };
}

/** Primary-only statements that change no data: no consistency token needed after them. */
const NO_DATA_CHANGE = new Set(['savepoint', 'session-function', 'cursor', 'primary-status', 'row-lock', 'lock-function']);

/** A statement that changed data (not only session state): worth a consistency token. */
export function wroteData(c: Classification): boolean {
  return c.target === 'primary' && c.effect === 'none' && !NO_DATA_CHANGE.has(c.reason);
}

/**
 * The seams' last word on a decision, before anything runs: with a health monitor a write first
 * waits for a primary (`beforeWrite`); the consistency layer may move a read (`beforeRead`); a
 * read left on a primary that is being replaced waits for the new one as a write does.
 * Synchronous (no promise) when neither has anything to do: the hot path.
 */
export function prepare<A, R, C>(cx: ClusterInternals, runner: NodeRunner<A, R, C>, sql: string, d: RouteDecision, retried: Retried = false): RouteDecision | Promise<RouteDecision> {
  const r = prepareOnce(cx, runner, sql, d, retried);
  if (!(r instanceof Promise) || !cx.timing) return r;
  // Someone times statements ('route' listeners, the debug log): the wait is part of the story.
  const t = performance.now();
  // The whole wait, measured here (a nested prepare's own stamp is part of it), plus any before `d`.
  return r.then((f) => ({ ...f, waitedMillis: performance.now() - t + (d.waitedMillis ?? 0) }));
}

function prepareOnce<A, R, C>(cx: ClusterInternals, runner: NodeRunner<A, R, C>, sql: string, d: RouteDecision, retried: Retried): RouteDecision | Promise<RouteDecision> {
  if (d.reason === 'pinned') return d;
  if (d.write) {
    const wait = cx.beforeWrite();
    return wait === undefined ? d : wait.then(() => cx.route(sql, d.classification));
  }
  if (d.node.role !== 'primary') return d;
  const r = retried ? d : cx.beforeRead(sql, d, runner) ?? d;
  if (r instanceof Promise) return r.then((f) => primaryRead(cx, runner, sql, f, retried));
  return primaryRead(cx, runner, sql, r, retried);
}

/**
 * A read only the primary may serve (`strong`, a position no replica has replayed, no replica up)
 * while there is no primary: it waits for one (bounded as a write's wait is), then is routed
 * afresh, so a replica that has caught up by then may serve it.
 */
function primaryRead<A, R, C>(cx: ClusterInternals, runner: NodeRunner<A, R, C>, sql: string, d: RouteDecision, retried: Retried): RouteDecision | Promise<RouteDecision> {
  if (d.node.role !== 'primary') return d;
  const wait = cx.beforeWrite();
  if (wait === undefined) return d;
  return wait.then(() => prepare(cx, runner, sql, cx.route(sql, d.classification), retried));
}

/** Counts the statement in flight on its node; returns its start time (0 when nobody times). */
export function started(cx: ClusterInternals, d: RouteDecision): number {
  cx.counters.inFlight[d.node.index]!++;
  return cx.timing ? performance.now() : 0;
}

/**
 * One statement sent to a node, from then until its result is handed over: what `settle`,
 * `finish` and the safety net after them need, in one object made once per statement (it holds
 * what their closures captured one by one before), so each step takes the statement and nothing
 * else.
 */
export interface SentStatement<A, R, C> {
  readonly cx: ClusterInternals;
  readonly runner: NodeRunner<A, R, C>;
  readonly sql: string;
  /** The driver's arguments, to run it again (the safety net, a retry after a connection error). */
  readonly args: A;
  /** Where it went and why. */
  readonly decision: RouteDecision;
  /** `started`'s time stamp: 0 when nobody times. */
  readonly t0: number;
  /** A replica refused it as a write and the primary ran it: a checked-out client binds there. */
  readonly onMisroute?: ((primary: NodeInfo) => void) | undefined;
  /** This is the one retry after a connection error: there is no other. */
  readonly retried?: Retried;
}

/** A statement sent through a driver's callback API: `finish` hands its outcome to `resolve`/`reject`. */
export interface CallbackStatement<A, R, C> extends SentStatement<A, R, C> {
  /** The caller's scope at the call: the driver calls back in its own async context. */
  readonly frame: ScopeFrame | undefined;
  readonly resolve: (result: R) => void;
  readonly reject: (err: unknown) => void;
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
  retried: Retried = false,
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
  decision: RouteDecision,
  onMisroute?: (primary: NodeInfo) => void,
  retried: Retried = false,
): Promise<R> {
  const t0 = started(cx, decision);
  return settle({ cx, runner, sql, args, decision, t0, onMisroute, retried }, runner.query(decision.node.index, tagged(cx, runner, args, decision.node, decision.reason, decision.classification)));
}

/**
 * `settle` for a driver's callback API: the routed pool hands the caller one promise it resolves
 * here, so the result passes through no extra promise at all (what the raw driver's own promise
 * API costs). Errors take `settle`'s path: they are rare. Used only when nobody listens to
 * `'route'` (listeners run in the caller's async context, which a driver callback does not have).
 */
export function finish<A, R, C>(s: CallbackStatement<A, R, C>, err: unknown, result: R): void {
  // The driver calls back in its own async context: what follows and depends on the caller's
  // (write hooks, the safety net's re-run) runs in the caller's scope, captured at the call.
  if (err !== undefined && err !== null) {
    withFrame(s.frame, () => void settle(s, Promise.reject(err as Error)).then(s.resolve, s.reject));
    return;
  }
  const { cx, decision: d } = s;
  const node = d.node;
  cx.counters.inFlight[node.index]!--;
  cx.record(node, s.sql, d.reason, d.write, s.t0, false, false, d.waitedMillis);
  if (cx.hasWriteHooks && node.role === 'primary' && wroteData(d.classification)) {
    withFrame(s.frame, () => {
      const p = cx.afterWrite(node, s.sql, d.classification, 'statement', (q) => s.runner.rows(node.index, q), s.runner.position?.(result));
      if (p !== undefined) p.then(() => s.resolve(result), s.reject);
      else s.resolve(result);
    });
    return;
  }
  s.resolve(result);
}

/** What happens once the node answered `pending` (started with `started`): stats, hooks, safety net, retry. */
export function settle<A, R, C>(s: SentStatement<A, R, C>, pending: Promise<R>): Promise<R> {
  const { cx, decision: d } = s;
  const node = d.node;
  const inFlight = cx.counters.inFlight;
  return pending.then(
    (result) => {
      inFlight[node.index]!--;
      cx.record(node, s.sql, d.reason, d.write, s.t0, false, false, d.waitedMillis);
      if (cx.hasWriteHooks && node.role === 'primary' && wroteData(d.classification)) {
        const p = cx.afterWrite(node, s.sql, d.classification, 'statement', (q) => s.runner.rows(node.index, q), s.runner.position?.(result));
        if (p !== undefined) return p.then(() => result);
      }
      return result;
    },
    (err: unknown) => {
      inFlight[node.index]!--;
      if (node.role === 'replica' && cx.engine.isReadOnlyError(err)) {
        s.onMisroute?.(cx.primary());
        return misrouted(s);
      }
      cx.record(node, s.sql, d.reason, d.write, s.t0, false, true, d.waitedMillis, err);
      if (!cx.engine.isConnectionError(err) && !fullPool(cx, err, s.retried ?? false)) throw err;
      return afterConnectionError(s, err);
    },
  );
}

/**
 * A one-shot statement whose node failed it with a connection error. The node is reported to the
 * health monitor (it leaves the routing at once). A read runs once more elsewhere: on another
 * replica, else on the primary (which waits for a new primary if it is the one that failed); if
 * that replica fails too, on the primary. A write that provably never reached a server waits for
 * a primary and runs there; one that may have run is never re-run: `WRITE_OUTCOME_UNKNOWN`.
 */
function afterConnectionError<A, R, C>(s: SentStatement<A, R, C>, err: unknown): Promise<R> {
  const { cx, runner, sql, args, decision: d, onMisroute } = s;
  const retried: Retried = s.retried ?? false;
  const node = d.node;
  // A full pool does not use up the retry a connection error has (a primary going away can fill
  // the pool first, then refuse the retry while it shuts down): the next one does.
  const next: Retried = retried === false && !cx.engine.isConnectionError(err) ? 'full-pool' : true;
  if (d.write) {
    const sent = !cx.engine.neverSent(err);
    const unknown = sent && mayHaveWritten(d.classification);
    const monitored = cx.connectionError(node, err, unknown);
    if (unknown) throw outcomeUnknown(node, err);
    if (retried !== true && d.reason !== 'pinned' && monitored) return dispatch(cx, runner, sql, args, d, onMisroute, next);
    if (sent || d.reason === 'pinned') throw err;
    throw notSent(node, err, monitored);
  }
  cx.connectionError(node, err, false);
  if (d.reason === 'pinned') throw err;
  const onReplica = node.role === 'replica';
  if (retried === true) {
    // The retry met another dying replica (several die at once): the primary serves any read.
    // At most three attempts: a replica, another one, the primary.
    if (!onReplica) throw err;
    return dispatch(cx, runner, sql, args, onPrimary(cx, d), onMisroute, true);
  }
  const again = cx.route(sql, d.classification);
  // Without a monitor the routers may pick the same replica again: the primary serves any read.
  return dispatch(cx, runner, sql, args, again.node.index === node.index && onReplica ? onPrimary(cx, d) : again, onMisroute, next);
}

/**
 * The wait for a free connection of the node's pool timed out (pg-pool's `timeout exceeded when
 * trying to connect`): nothing was sent. A full pool alone is no failing node, but it is also what
 * a node that went silent leaves behind (every connection stuck connecting to it), and only the
 * monitor can tell which: the statement takes the connection-error path once — the node is
 * reported (suspect: checked at once, back after one good check), a read runs elsewhere, a write
 * waits for a primary — and a second full pool fails as before.
 */
function fullPool(cx: ClusterInternals, err: unknown, retried: Retried): boolean {
  return retried === false && cx.engine.neverSent(err);
}

/**
 * Whether a one-shot statement was routed again: `true` after a connection error (it is not
 * retried again), `'full-pool'` after its node's pool had no free connection (see {@link fullPool}).
 */
type Retried = boolean | 'full-pool';

function onPrimary(cx: ClusterInternals, d: RouteDecision): RouteDecision {
  return { node: cx.primary(), reason: 'replica-unavailable', classification: d.classification, write: false };
}

/** A statement that may have changed data had it run (so its outcome matters when it was cut). */
function mayHaveWritten(c: Classification): boolean {
  return c.target === 'primary' && c.effect !== 'session' && c.effect !== 'begin' && !NO_DATA_CHANGE.has(c.reason);
}

/** A write or COMMIT that reached its primary, whose answer never came back. */
export function outcomeUnknown(node: NodeInfo, cause: unknown, commit = false): DbRouterError {
  return new DbRouterError(
    'WRITE_OUTCOME_UNKNOWN',
    `The connection to the primary "${node.alias}" was lost while ${commit ? 'a COMMIT' : 'a write'} was in flight: it may or may not have committed. ` +
      'Check whether it took effect (read it back, or use an idempotency key) before running it again; dbrouter does not re-run it. The driver\'s error is the cause.',
    { cause },
  );
}

/** A write that never reached a server and found no primary to wait for (or waited once already). */
function notSent(node: NodeInfo, cause: unknown, monitored: boolean): DbRouterError {
  return new DbRouterError(
    'PRIMARY_UNAVAILABLE',
    `The primary "${node.alias}" could not be reached; the write was not sent, so it did not run. ` +
      (monitored
        ? 'It already waited once for a primary and found it unreachable again; run it again later.'
        : 'No health monitor watches this cluster, so nothing waited for a new primary: keep health checks on, or run it again once the primary is back.'),
    { cause },
  );
}

/** The safety net: a write a replica refused as read-only runs once on the primary, counted as a misroute. */
function misrouted<A, R, C>(s: SentStatement<A, R, C>): Promise<R> {
  const { cx, runner, sql, decision: d, t0 } = s;
  const primary = cx.primary();
  const inFlight = cx.counters.inFlight;
  inFlight[primary.index]!++;
  return runner.query(primary.index, tagged(cx, runner, s.args, primary, d.reason, d.classification)).then(
    (result) => {
      inFlight[primary.index]!--;
      cx.record(primary, sql, d.reason, true, t0, true, false, d.waitedMillis);
      if (cx.hasWriteHooks) {
        const p = cx.afterWrite(primary, sql, d.classification, 'statement', (q) => runner.rows(primary.index, q), runner.position?.(result));
        if (p !== undefined) return p.then(() => result);
      }
      return result;
    },
    (err: unknown) => {
      inFlight[primary.index]!--;
      cx.record(primary, sql, d.reason, true, t0, true, true, d.waitedMillis, err);
      if (cx.engine.isConnectionError(err) && !cx.engine.neverSent(err)) {
        cx.connectionError(primary, err, true);
        throw outcomeUnknown(primary, err);
      }
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

/**
 * A PostgreSQL standby refuses SERIALIZABLE and READ WRITE transactions: asked for right after a
 * read-only BEGIN that went to a replica, the transaction moves to the primary (nothing ran in it).
 */
const NEEDS_PRIMARY_TX = /^\s*set\s+transaction\b[^;]*\b(?:serializable|read\s+write)\b/i;

/** How a read-only BEGIN moved to the primary is routed: as a BEGIN (the primary). */
const BEGIN_ON_PRIMARY: Classification = Object.freeze({
  target: 'primary',
  reason: 'transaction-begin',
  verb: 'BEGIN',
  effect: 'begin',
  readOnly: false,
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
  readonly #holdAfterWrite: boolean;
  #mode = FREE;
  #node: NodeInfo | undefined;
  #conn: C | undefined;
  /** The bound node's connection while its pool is still giving it (see `#connection`). */
  #connecting: Promise<C> | undefined;
  #inTx = false;
  #txWrote = false;
  /** A read-only BEGIN that ran on a replica and nothing since: the transaction can still move. */
  #movable: { readonly sql: string; readonly args: A } | undefined;
  /**
   * A statement of the open transaction reported a position: something committed before the
   * transaction's end (a statement with an implicit commit), so the COMMIT's own position does not
   * stand for all of it.
   */
  #txSplit = false;
  #released = false;
  /** Set when the held connection died: every statement until `release()` fails with it. */
  #lost: DbRouterError | undefined;

  /**
   * `holdAfterWrite: false` is for long-lived clients (a driver module's `Client`, kept by an ORM's
   * own pool): an autocommit write runs one-shot on the primary and a transaction holds its node
   * only until it ends, so the client's later reads go back to replicas (read-your-writes is the
   * consistency layer's job). Session state (temp tables, LISTEN, …) still binds it for good.
   */
  constructor(cx: ClusterInternals, runner: NodeRunner<A, R, C>, pinned?: NodeInfo, options?: { readonly holdAfterWrite?: boolean }) {
    this.#cx = cx;
    this.#runner = runner;
    this.#pinned = pinned;
    this.#holdAfterWrite = options?.holdAfterWrite ?? true;
  }

  get released(): boolean {
    return this.#released;
  }

  /** True between a `BEGIN` and its `COMMIT`/`ROLLBACK`. */
  get inTransaction(): boolean {
    return this.#inTx;
  }

  /** The alias this client holds a connection to, if any. */
  get boundAlias(): string | undefined {
    return this.#mode === FREE ? undefined : this.#node?.alias;
  }

  /** The connection this client holds and its node, while bound (`undefined` while free). */
  get held(): { readonly conn: C; readonly node: NodeInfo } | undefined {
    return this.#mode === FREE || this.#conn === undefined ? undefined : { conn: this.#conn, node: this.#node! };
  }

  // Not async: a free client's read is the hot path of ORMs that check out a client per query.
  query(sql: string, args: A): Promise<R> {
    return this.#query(sql, args, false);
  }

  #query(sql: string, args: A, retried: boolean): Promise<R> {
    if (this.#released) return Promise.reject(new DbRouterError('CLIENT_RELEASED', 'This client was released to the pool; check out a new one with connect()/getConnection().'));
    if (this.#lost !== undefined) return Promise.reject(this.#lost);
    const cx = this.#cx;
    if (!cx.isReady) return cx.ready().then(() => this.#query(sql, args, retried));
    const movable = this.#movable;
    if (movable !== undefined) {
      this.#movable = undefined;
      if (this.#mode === READ_ONLY_TX && this.#inTx && NEEDS_PRIMARY_TX.test(sql)) return this.#moveToPrimary(movable, sql, args, retried);
    }
    try {
      const c = cx.classify(sql);
      // `SET TRANSACTION … READ ONLY` held a replica for the next transaction; anything but a BEGIN
      // next lets it go and is routed afresh.
      if (this.#mode === READ_ONLY_TX && !this.#inTx && c.effect !== 'begin') this.#unbind();
      if (this.#mode !== FREE) return this.#runBound(sql, args, c, retried);
      const nextReadOnly = this.#pinned === undefined && NEXT_TX_READ_ONLY.test(sql);
      const d: RouteDecision = this.#pinned !== undefined
        ? { node: this.#pinned, reason: 'pinned', classification: c, write: true }
        : cx.route(sql, nextReadOnly ? READ_ONLY_NEXT : c);
      return this.#freeWhenWritable(sql, args, c, d, nextReadOnly, retried);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** A write waits for a writable primary first (the monitor's failover wait), then is routed again. */
  #freeWhenWritable(sql: string, args: A, c: Classification, d: RouteDecision, nextReadOnly: boolean, retried: boolean): Promise<R> {
    if (d.write && d.reason !== 'pinned') {
      const cx = this.#cx;
      const wait = cx.beforeWrite();
      if (wait !== undefined) {
        const t = cx.timing ? performance.now() : 0;
        return wait.then(() => this.#free(sql, args, c, waited(cx.route(sql, c), t), nextReadOnly, retried));
      }
    }
    return this.#free(sql, args, c, d, nextReadOnly, retried);
  }

  #free(sql: string, args: A, c: Classification, d: RouteDecision, nextReadOnly: boolean, retried: boolean): Promise<R> {
    if (d.reason === 'pinned') this.#bind(d.node, STICKY);
    else if (nextReadOnly) this.#bind(d.node, d.node.role === 'replica' ? READ_ONLY_TX : STICKY);
    else if (c.effect === 'begin') this.#bind(d.node, d.write && this.#holdAfterWrite ? STICKY : READ_ONLY_TX);
    else if (d.write && (this.#holdAfterWrite || c.effect !== 'none')) this.#bind(d.node, STICKY);
    // A misrouted read wrote on the primary: the client stays there, as after any write.
    else return dispatch(this.#cx, this.#runner, sql, args, d, (primary) => this.#bind(primary, STICKY), retried);
    return this.#runBound(sql, args, c, retried, d.waitedMillis);
  }

  /**
   * The statement asks for what a standby refuses (SERIALIZABLE, READ WRITE) in a read-only
   * transaction on a replica in which nothing ran yet: its connection is closed (the server rolls
   * the empty transaction back), the BEGIN runs again on the primary, then the statement.
   */
  async #moveToPrimary(begun: { readonly sql: string; readonly args: A }, sql: string, args: A, retried: boolean): Promise<R> {
    const cx = this.#cx;
    const conn = this.#conn;
    this.#conn = undefined;
    this.#mode = FREE;
    this.#node = undefined;
    this.#inTx = false;
    if (conn !== undefined) this.#runner.release(conn, new DbRouterError('UNSUPPORTED', 'A read-only transaction on a replica moved to the primary before its first statement.'));
    await this.#freeWhenWritable(begun.sql, begun.args, BEGIN_ON_PRIMARY, cx.route(begun.sql, BEGIN_ON_PRIMARY), false, retried);
    return this.#query(sql, args, retried);
  }

  #bind(node: NodeInfo, mode: number): void {
    this.#node = node;
    this.#mode = mode;
  }

  async #runBound(sql: string, args: A, c: Classification, retried: boolean, waitedMillis?: number): Promise<R> {
    const cx = this.#cx;
    const node = this.#node!;
    const fresh = this.#conn === undefined;
    if (fresh) {
      try {
        await this.#connection(node);
      } catch (err) {
        this.#mode = FREE;
        this.#node = undefined;
        cx.record(node, sql, this.#pinned !== undefined ? 'pinned' : c.effect === 'begin' ? 'transaction' : 'sticky', c.target === 'primary', 0, false, true, undefined, err);
        if (!cx.engine.isConnectionError(err) && !fullPool(cx, err, retried)) throw err;
        // Nothing was sent: the statement may go anywhere, once the monitor has found a primary.
        return this.#again(sql, args, node, err, retried, true);
      }
    }
    const begins = c.effect === 'begin';
    // A write keeps its own reason (`insert`, `write-function`…); `sticky` is for reads that stay on the client's node.
    const reason = this.#inTx || begins ? 'transaction' : this.#pinned !== undefined ? 'pinned' : c.target === 'primary' ? c.reason : 'sticky';
    const write = c.target === 'primary';
    const t0 = cx.timing ? performance.now() : 0;
    const inFlight = cx.counters.inFlight;
    inFlight[node.index]!++;
    let result: R;
    try {
      result = await this.#runner.queryOn(this.#conn!, tagged(cx, this.#runner, args, node, reason, c));
    } catch (err) {
      inFlight[node.index]!--;
      cx.record(node, sql, reason, write, t0, false, true, waitedMillis, err);
      if (cx.engine.isConnectionError(err)) return this.#connectionLost(sql, args, c, node, err, fresh, retried);
      if (this.#mode === READ_ONLY_TX && !this.#inTx) this.#unbind();
      throw err;
    }
    inFlight[node.index]!--;
    cx.record(node, sql, reason, write, t0, false, false, waitedMillis);
    if (begins) {
      if (this.#inTx) {
        // A BEGIN inside a transaction commits it: what it wrote is reported with the next one's end.
        if (this.#txWrote || this.#runner.position?.(result) !== undefined) this.#txSplit = true;
      } else {
        this.#txWrote = false;
        this.#txSplit = false;
      }
      this.#inTx = true;
      if (c.reason === 'transaction-read-only' && node.role === 'replica' && this.#mode === READ_ONLY_TX) this.#movable = { sql, args };
    } else if (c.effect === 'end') {
      const wrote = this.#inTx && this.#txWrote;
      const split = this.#txSplit;
      this.#inTx = false;
      this.#txWrote = false;
      this.#txSplit = false;
      if (this.#mode === READ_ONLY_TX) this.#unbind();
      if (wrote && cx.hasWriteHooks && node.role === 'primary') {
        // Only the COMMIT's own position, and only when nothing of the transaction committed before it.
        const p = cx.afterWrite(node, sql, c, 'commit', (q) => this.#runner.rows(node.index, q), split ? undefined : this.#runner.position?.(result));
        if (p !== undefined) await p;
      }
    } else if (this.#inTx) {
      if (wroteData(c)) this.#txWrote = true;
      if (this.#runner.position?.(result) !== undefined) this.#txSplit = true;
    } else if (wroteData(c) && cx.hasWriteHooks && node.role === 'primary') {
      const p = cx.afterWrite(node, sql, c, 'statement', (q) => this.#runner.rows(node.index, q), this.#runner.position?.(result));
      if (p !== undefined) await p;
    }
    return result;
  }

  /**
   * The statement did not run and nothing on this client depends on the connection it was to
   * use: route it afresh once, after the monitor has taken `node` out (a write waits for a
   * primary there, as on the pool). `sent` false: it provably never reached a server.
   */
  #again(sql: string, args: A, node: NodeInfo, err: unknown, retried: boolean, notSentYet: boolean): Promise<R> {
    const monitored = this.#cx.connectionError(node, err, false);
    if (this.#pinned !== undefined) throw err;
    // Without a monitor, a refused primary would refuse again at once; a cut connection need not.
    if (!retried && (monitored || node.role === 'replica' || !notSentYet)) return this.#query(sql, args, true);
    if (node.role === 'primary' && notSentYet) throw notSent(node, err, monitored);
    throw err;
  }

  /**
   * The held connection died under a statement. On a connection just taken for this statement,
   * a statement that cannot have changed data (or never got through) is routed afresh once.
   * Otherwise the client is lost until released, with one typed error for this statement and the
   * ones after it: a write or COMMIT that may have run is `WRITE_OUTCOME_UNKNOWN`; anything else
   * inside a transaction `TRANSACTION_LOST` (the server rolls it back: nothing of it committed);
   * anything else `CONNECTION_LOST` (the session's state went with the connection).
   */
  #connectionLost(sql: string, args: A, c: Classification, node: NodeInfo, err: unknown, fresh: boolean, retried: boolean): Promise<R> {
    const sent = !this.#cx.engine.neverSent(err);
    const inTx = this.#inTx;
    const txWrote = this.#txWrote;
    const onPrimary = this.#mode === STICKY;
    const conn = this.#conn;
    this.#conn = undefined;
    this.#mode = FREE;
    this.#node = undefined;
    this.#inTx = false;
    this.#txWrote = false;
    this.#txSplit = false;
    if (conn !== undefined) this.#runner.release(conn, err);
    if (fresh && !inTx && (!sent || !mayHaveWritten(c))) return this.#again(sql, args, node, err, retried, !sent);
    const commit = c.effect === 'end' && /^(COMMIT|END)$/.test(c.verb);
    let lost: DbRouterError;
    if (sent && onPrimary && (inTx ? commit && txWrote : mayHaveWritten(c))) {
      this.#cx.connectionError(node, err, true);
      lost = outcomeUnknown(node, err, commit);
    } else {
      this.#cx.connectionError(node, err, false);
      lost = inTx
        ? new DbRouterError(
          'TRANSACTION_LOST',
          `The connection to "${node.alias}" was lost inside a transaction: the transaction is gone and nothing it wrote was committed (the server rolls it back). ` +
            'Release this client and run the whole transaction again on a new one. The driver\'s error is the cause.',
          { cause: err },
        )
        : new DbRouterError(
          'CONNECTION_LOST',
          `The connection this client held to "${node.alias}" was lost${sent ? '' : ' before the statement was sent'}, and with it the session's state (SET, temporary tables, locks, prepared statements). ` +
            'Release this client and check out a new one. The driver\'s error is the cause.',
          { cause: err },
        );
    }
    this.#lost = lost;
    return Promise.reject(lost);
  }

  /**
   * The connection this client holds, for session state that lives on one physical connection
   * (a server-side prepared statement, a session reset). A free client binds to the primary first
   * (every read through it then sees every write); a bound one keeps its node. Refused inside a
   * read-only transaction on a replica, whose connection goes back when the transaction ends.
   * `sql`, the statement the held connection is for (a statement to prepare), is classified first,
   * so a read-only pool refuses a write with `READ_ONLY` here as it would when run.
   */
  async hold(sql?: string): Promise<{ readonly conn: C; readonly node: NodeInfo }> {
    if (this.#released) throw new DbRouterError('CLIENT_RELEASED', 'This client was released to the pool; check out a new one with connect()/getConnection().');
    if (this.#lost !== undefined) throw this.#lost;
    const cx = this.#cx;
    if (!cx.isReady) await cx.ready();
    if (sql !== undefined) cx.classify(sql);
    if (this.#mode === READ_ONLY_TX) {
      throw new DbRouterError('UNSUPPORTED', 'This client is in a read-only transaction on a replica, whose connection goes back when it ends: prepare statements after COMMIT (on the primary) or outside the read-only transaction.');
    }
    if (this.#mode === FREE) {
      const wait = this.#pinned === undefined ? cx.beforeWrite() : undefined;
      if (wait !== undefined) await wait;
      if (this.#mode === FREE) this.#bind(this.#pinned ?? cx.primary(), STICKY);
    }
    return this.#boundConnection();
  }

  /**
   * Takes the bound node's connection once: statements issued while the pool is still giving it
   * wait for the same one and reach it in the order they were issued, as on a driver's own client
   * (`CREATE TEMP TABLE t` then `SELECT … FROM t`, sent without awaiting, must meet on one session).
   * A connection that arrives after `release()` goes straight back.
   */
  #connection(node: NodeInfo): Promise<C> {
    if (this.#conn !== undefined) return Promise.resolve(this.#conn);
    if (this.#connecting !== undefined) return this.#connecting;
    const p = this.#runner.acquire(node.index).then(
      (conn) => {
        this.#connecting = undefined;
        if (this.#released || this.#node !== node) {
          this.#runner.release(conn);
          throw new DbRouterError('CLIENT_RELEASED', 'This client was released to the pool while its connection was being taken; check out a new one with connect()/getConnection().');
        }
        this.#conn = conn;
        return conn;
      },
      (err: unknown) => {
        this.#connecting = undefined;
        throw err;
      },
    );
    this.#connecting = p;
    return p;
  }

  /**
   * The bound node's connection, taken from its pool on first use. A node whose pool cannot give one
   * unbinds this client (the next statement is routed afresh) and is reported to the monitor.
   */
  async #boundConnection(): Promise<{ readonly conn: C; readonly node: NodeInfo }> {
    const cx = this.#cx;
    const node = this.#node!;
    let conn = this.#conn;
    if (conn === undefined) {
      try {
        conn = await this.#connection(node);
      } catch (err) {
        this.#mode = FREE;
        this.#node = undefined;
        if (cx.engine.isConnectionError(err)) cx.connectionError(node, err, true);
        throw err;
      }
    }
    return { conn, node };
  }

  /**
   * Where a streamed statement (a cursor) runs, for as long as it runs. A bound client streams on
   * its held connection; a write binds it to the primary first. A read on a free client gets a
   * connection of its own on the node the routers chose (the consistency layer may move it to a
   * replica that has replayed the unit of work, or to the primary). Call `done` once, when the
   * stream has ended, failed or been closed: it records the statement and gives back a connection
   * taken for the stream alone.
   */
  async stream(sql: string): Promise<{ readonly conn: C; readonly node: NodeInfo; done(err?: unknown): void }> {
    if (this.#released) throw new DbRouterError('CLIENT_RELEASED', 'This client was released to the pool; check out a new one with connect()/getConnection().');
    const cx = this.#cx;
    if (!cx.isReady) await cx.ready();
    const c = cx.classify(sql);
    if (this.#mode === READ_ONLY_TX && !this.#inTx && c.effect !== 'begin') this.#unbind();
    if (this.#mode === FREE) {
      let d: RouteDecision = this.#pinned !== undefined ? { node: this.#pinned, reason: 'pinned', classification: c, write: true } : cx.route(sql, c);
      if (d.write || d.reason === 'pinned') {
        const wait = d.reason === 'pinned' ? undefined : cx.beforeWrite();
        if (wait !== undefined) {
          await wait;
          d = cx.route(sql, c);
        }
        this.#bind(d.node, STICKY);
      } else {
        const ready = prepare(cx, this.#runner, sql, d);
        const f = ready instanceof Promise ? await ready : ready;
        const conn = await this.#runner.acquire(f.node.index);
        const t0 = started(cx, f);
        let open = true;
        return {
          conn,
          node: f.node,
          done: (err?: unknown) => {
            if (!open) return;
            open = false;
            cx.counters.inFlight[f.node.index]!--;
            cx.record(f.node, sql, f.reason, false, t0, false, err !== undefined, f.waitedMillis, err);
            const broken = err !== undefined && cx.engine.isConnectionError(err);
            if (broken) cx.connectionError(f.node, err, false);
            this.#runner.release(conn, broken ? err : undefined);
          },
        };
      }
    }
    const { conn, node } = await this.#boundConnection();
    const reason = this.#inTx ? 'transaction' : this.#pinned !== undefined ? 'pinned' : 'sticky';
    const write = c.target === 'primary';
    const t0 = cx.timing ? performance.now() : 0;
    cx.counters.inFlight[node.index]!++;
    let open = true;
    return {
      conn,
      node,
      done: (err?: unknown) => {
        if (!open) return;
        open = false;
        cx.counters.inFlight[node.index]!--;
        cx.record(node, sql, reason, write, t0, false, err !== undefined, undefined, err);
        if (err !== undefined) {
          if (cx.engine.isConnectionError(err)) cx.connectionError(node, err, true);
          return;
        }
        if (!wroteData(c)) return;
        if (this.#inTx) this.#txWrote = true;
        else if (cx.hasWriteHooks && node.role === 'primary') {
          // The stream's consumer has its rows already: the position is captured in the background.
          cx.afterWrite(node, sql, c, 'statement', (q) => this.#runner.rows(node.index, q), undefined)?.catch((e: unknown) => cx.backgroundError(e));
        }
      },
    };
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
    this.#movable = undefined;
    const conn = this.#conn;
    this.#conn = undefined;
    this.#mode = FREE;
    if (conn !== undefined) this.#runner.release(conn, err);
  }
}
/** A connection lent by a routed pool for one streamed statement (see {@link leaseFor}). */
export interface Lease<C> {
  readonly node: NodeInfo;
  readonly conn: C;
  /**
   * Records the statement and gives back the connection: destroyed after a connection error or
   * an early stop (rows may still be on the wire). A promise settles once a write's position is
   * captured, so a read after the stream's end sees the write.
   */
  done(err?: unknown, stoppedEarly?: boolean): Promise<void> | undefined;
}

async function acquireOn<A, R, C>(cx: ClusterInternals, runner: NodeRunner<A, R, C>, node: NodeInfo): Promise<C> {
  try {
    return await runner.acquire(node.index);
  } catch (err) {
    if (cx.engine.isConnectionError(err)) cx.connectionError(node, err, false);
    throw err;
  }
}

function oneShot<A, R, C>(cx: ClusterInternals, runner: NodeRunner<A, R, C>, sql: string, d: RouteDecision, conn: C): Lease<C> {
  const t0 = started(cx, d);
  const node = d.node;
  let given = false;
  return {
    node,
    conn,
    done: (err, stoppedEarly) => {
      if (given) return undefined;
      given = true;
      cx.counters.inFlight[node.index]!--;
      cx.record(node, sql, d.reason, d.write, t0, false, err !== undefined, d.waitedMillis, err);
      const broken = err !== undefined && cx.engine.isConnectionError(err);
      if (broken) cx.connectionError(node, err, d.write);
      runner.release(conn, broken ? err : stoppedEarly === true ? new Error('stream stopped early') : undefined);
      if (err === undefined && d.write && cx.hasWriteHooks && node.role === 'primary' && wroteData(d.classification)) {
        return cx.afterWrite(node, sql, d.classification, 'statement', (q) => runner.rows(node.index, q), undefined);
      }
      return undefined;
    },
  };
}

/**
 * A routed pool's streamed statement (no checked-out client): routed as `dispatch` would (a read
 * to a replica that has replayed the unit of work's position, a write to the primary), on a
 * connection taken from that node for the statement alone.
 */
export async function leaseFor<A, R, C>(cx: ClusterInternals, runner: NodeRunner<A, R, C>, sql: string, pinned?: NodeInfo): Promise<Lease<C>> {
  if (!cx.isReady) await cx.ready();
  const c = cx.classify(sql);
  const d0: RouteDecision = pinned !== undefined ? { node: pinned, reason: 'pinned', classification: c, write: true } : cx.route(sql, c);
  const d = await prepare(cx, runner, sql, d0);
  return oneShot(cx, runner, sql, d, await acquireOn(cx, runner, d.node));
}
