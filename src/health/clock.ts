/**
 * The time source of the health monitor: wall-clock milliseconds and timers. Injected so the
 * monitor's state machine can be driven by a fake clock in tests instead of real sleeps.
 *
 * @example
 *   new HealthMonitor({ ..., clock: systemClock })
 */
export interface Clock {
  /** Milliseconds since the epoch, as `Date.now()`. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds; must not keep the process alive (the real one unrefs). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer `setTimeout` returned; a handle that already fired is ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** An opaque timer handle returned by `Clock.setTimeout`. */
export type TimerHandle = object | number;

/**
 * The real clock. Its timers are unref'd: a background monitor must not keep a process alive
 * on its own (the application's pools decide that).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
