import type { ConsistencyLevel } from './levels.js';
import type { RowsFn } from '../routing/positions.js';
import type { FrameConsistency, ScopeFrame } from '../routing/scopes.js';

/**
 * What one async context (a request, a job, the process outside any) knows about its own writes,
 * for one cluster. Writes only mark it `dirty`; the primary's position is asked once, when a later
 * read or a token needs it.
 */
export class SessionState {
  /** The latest write position this context must see (its own, or a token's). */
  position: string | undefined;
  /** Wrote since `position` was captured. */
  dirty = false;
  /** Counts writes, so a capture that raced a newer write leaves the state dirty. */
  seq = 0;
  /** Wrote in this context (not only received a token): a new token is worth sending. */
  wrote = false;
  /** `Date.now()` after the last write returned: everything it wrote was committed by then. */
  wroteAt = 0;
  /** `Date.now()` when the last capture was sent; replica positions sampled before it are re-asked. */
  capturedAt = 0;
  /** Runs a statement on the primary that took the last write (the write hook's `query`). */
  primaryRun: RowsFn | undefined;
  capturing: Promise<void> | undefined;
  /** Per node index: a replay position already found to reach `position` (reset when it moves). */
  satisfiedBy: string[] | undefined;
}

/**
 * The consistency part of a scope frame. `sessions` is shared by every nested scope of one unit
 * of work (a request), one state per cluster; `level` is the innermost one set.
 */
export interface ConsistencyScope extends FrameConsistency {
  readonly level: ConsistencyLevel | undefined;
  /** `undefined`: the process-wide state of each cluster (code outside any unit of work). */
  readonly sessions: Map<object, SessionState> | undefined;
  /** Writes in this scope ask for synchronous commit (`cluster.synchronous()`). */
  readonly synchronous: boolean;
}

/** A new unit of work: its own read-your-writes state, starting clean. */
export function newConsistencyScope(level?: ConsistencyLevel, signal?: AbortSignal): ConsistencyScope {
  return { level, sessions: new Map(), signal, synchronous: false };
}

/**
 * The consistency part of `frame`. Only this layer writes a frame's `consistency` (routing carries
 * it as an opaque {@link FrameConsistency}), so what it finds there is a `ConsistencyScope`.
 */
export function consistencyOf(frame: ScopeFrame | undefined): ConsistencyScope | undefined {
  return frame?.consistency as ConsistencyScope | undefined;
}
