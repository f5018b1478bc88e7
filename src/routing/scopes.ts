import { AsyncLocalStorage } from 'node:async_hooks';
import { DbRouterError } from '../errors.js';
import type { Hints } from './router.js';

/**
 * The consistency layer's part of a scope frame (its `ConsistencyScope`, in
 * src/consistency/session.ts). Routing never reads it: it only carries it into nested scopes, so
 * it knows no more of it than this, and the layer above reads it back with `consistencyOf`.
 */
export interface FrameConsistency {
  /** Aborted when the unit of work ends early (an HTTP client went away): waits stop. */
  readonly signal: AbortSignal | undefined;
}

/**
 * Where the statements of the current async context go, carried on AsyncLocalStorage so that
 * concurrent requests never see each other's scope.
 * - `primary`: every statement goes to the primary.
 * - `replica`: reads go to a replica even where a router would not send them; writes still go to
 *   the primary: forcing a replica never sends a write there.
 * - `alias`: reads go to `alias` (a cluster's `using()`); writes too if it is a primary.
 * - `auto`: normal routing (a frame that only carries hints).
 */
export interface ScopeFrame {
  readonly mode: 'primary' | 'replica' | 'alias' | 'auto';
  readonly alias?: string;
  /** The cluster an `alias` frame belongs to; other clusters route as if it were not there. */
  readonly owner?: object;
  readonly hints?: Hints;
  /** Read-your-writes state and level; inherited by nested scopes that do not set their own. */
  readonly consistency?: FrameConsistency;
  /**
   * A strict read-only scope (`cluster.readOnly()`): a statement that changes data is refused with
   * `READ_ONLY` before it reaches any server. Inherited by every nested scope: nothing inside can
   * turn it off.
   */
  readonly readOnly?: boolean;
}

const storage = new AsyncLocalStorage<ScopeFrame | undefined>();

/** The innermost scope of the current async context, if any. */
export function currentScope(): ScopeFrame | undefined {
  return storage.getStore();
}

/**
 * Runs `fn` with `frame` as the current scope. A lazy thenable that `fn` returns (Drizzle's query
 * builders run only when `then` is called) is started inside the scope, not by the caller's
 * `await` outside it.
 */
export function runInScope<R>(frame: ScopeFrame, fn: () => R): R {
  if (typeof fn !== 'function') throw new DbRouterError('SCOPE_INVALID', 'A scope runs a function: pass one, such as cluster.primary(() => pool.query(sql)).');
  return storage.run(inherit(frame), () => startThenable(fn()));
}

// A nested scope (primary(), a decorator) stays in the same unit of work: it keeps the outer
// frame's consistency state, or the request would forget its own writes inside it. A read-only
// scope stays read-only inside any nested scope.
function inherit(frame: ScopeFrame): ScopeFrame {
  const outer = storage.getStore();
  if (outer === undefined) return frame;
  const keepConsistency = frame.consistency === undefined && outer.consistency !== undefined;
  const keepReadOnly = outer.readOnly === true && frame.readOnly !== true;
  if (!keepConsistency && !keepReadOnly) return frame;
  return { ...frame, ...(keepConsistency ? { consistency: outer.consistency } : {}), ...(keepReadOnly ? { readOnly: true } : {}) };
}

function startThenable<R>(r: R): R {
  if (r instanceof Promise || typeof r !== 'object' || r === null) return r;
  const then = (r as { then?: unknown }).then;
  if (typeof then !== 'function') return r;
  return new Promise((resolve, reject) => {
    (then as (ok: (v: unknown) => void, fail: (e: unknown) => void) => void).call(r, resolve, reject);
  }) as R;
}

/**
 * Runs `fn` with `frame` (possibly none) as the current scope, as captured earlier: for driver
 * callbacks, which run in the driver's async context rather than the caller's.
 */
export function withFrame<R>(frame: ScopeFrame | undefined, fn: () => R): R {
  return storage.getStore() === frame ? fn() : storage.run(frame, fn);
}

/** A scope entered with `cluster.enter()`; pass it to `cluster.revert()` to leave it. Opaque. */
export interface ScopeHandle {
  /** @internal The scope entered. */
  readonly frame: ScopeFrame;
  /** @internal The scope to go back to. */
  readonly previous: ScopeFrame | undefined;
}

/**
 * Enters a scope for the rest of the current synchronous run and the async work it starts, for
 * code that cannot wrap a callback (a request hook that routes the rest of the request). Undo it with `revertScope`.
 */
export function enterScope(frame: ScopeFrame): ScopeHandle {
  const previous = storage.getStore();
  storage.enterWith(inherit(frame));
  return { frame, previous };
}

export function revertScope(handle: ScopeHandle): void {
  storage.enterWith(handle.previous);
}

const PRIMARY: ScopeFrame = Object.freeze({ mode: 'primary' });
const REPLICA: ScopeFrame = Object.freeze({ mode: 'replica' });

/** A class method as a standard (TC39) decorator receives and returns it: {@link usePrimary}, {@link useReplica}. */
export type DecoratedMethod<This, Args extends unknown[], R> = (this: This, ...args: Args) => R;

/**
 * A standard (TC39) method decorator: every statement the method runs, across its awaits, goes to
 * the primary, in every cluster.
 *
 * @example
 *   class Accounts { @usePrimary async balance(id: number) { return pool.query('SELECT …', [id]); } }
 */
export function usePrimary<This, Args extends unknown[], R>(
  method: DecoratedMethod<This, Args, R>,
  context: ClassMethodDecoratorContext<This, DecoratedMethod<This, Args, R>>,
): DecoratedMethod<This, Args, R> {
  const name = `${String(context.name)}@usePrimary`;
  const wrapped = function (this: This, ...args: Args): R {
    return runInScope(PRIMARY, () => method.apply(this, args));
  };
  Object.defineProperty(wrapped, 'name', { value: name });
  return wrapped;
}

/**
 * A standard (TC39) method decorator: the method's reads go to replicas (writes still go to the
 * primary), in every cluster.
 *
 * @example
 *   class Reports { @useReplica async daily() { return pool.query('SELECT …'); } }
 */
export function useReplica<This, Args extends unknown[], R>(
  method: DecoratedMethod<This, Args, R>,
  context: ClassMethodDecoratorContext<This, DecoratedMethod<This, Args, R>>,
): DecoratedMethod<This, Args, R> {
  const name = `${String(context.name)}@useReplica`;
  const wrapped = function (this: This, ...args: Args): R {
    return runInScope(REPLICA, () => method.apply(this, args));
  };
  Object.defineProperty(wrapped, 'name', { value: name });
  return wrapped;
}

export const PRIMARY_SCOPE = PRIMARY;
export const REPLICA_SCOPE = REPLICA;
