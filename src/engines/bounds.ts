/**
 * dbrouter's default bounds on waiting for a server, in one place so the documentation
 * (docs/health-and-failover.md) and the code cannot drift. Every network wait has one.
 */

/**
 * Opening a connection to a node from an application pool, when `pool.connectionTimeoutMillis`
 * is not given. node-postgres waits forever by default and mysql2 10 s; a node that accepts TCP
 * and never answers must not hold a statement longer than this.
 */
export const DEFAULT_CONNECT_TIMEOUT_MILLIS = 5000;

/**
 * TCP keepalive on every pooled connection, after this long without traffic (node-postgres
 * `keepAliveInitialDelayMillis`, mysql2 `keepAliveInitialDelay`, the mariadb connector's
 * `keepAliveDelay`). node-postgres and the mariadb connector leave keepalive off and mysql2 waits
 * the operating system's default (2 hours on Linux) before its first probe. With it, a connection
 * whose peer went silent (a partition, a host powered off) fails once the probes go unanswered —
 * on Linux with Node's settings about 10 probes 1 s apart — even with no health monitor. A server
 * that is alive answers the probes from its kernel, so a long statement is never cut by this.
 */
export const DEFAULT_KEEPALIVE_DELAY_MILLIS = 10_000;

/** How long `pool.end()` lets connections close politely before it destroys the rest. */
export const END_TIMEOUT_MILLIS = 5000;

/**
 * Races `work` against a timer; on timeout rejects with `onTimeout()` and calls `abandon` (which
 * should destroy whatever `work` still waits on). The timer is unref'd: it never keeps a process alive.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error, abandon?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      abandon?.();
      reject(onTimeout());
    }, ms);
    timer.unref();
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/**
 * Ends a driver pool within `ms`: past it, `destroy` drops the connections still open (a server
 * that stopped answering never acknowledges a polite close) and the promise resolves.
 */
export function endWithin(end: () => Promise<void>, ms: number, destroy: () => void): Promise<void> {
  let p: Promise<void>;
  try {
    p = end();
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        destroy();
      } finally {
        resolve();
      }
    }, ms);
    timer.unref();
    p.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
