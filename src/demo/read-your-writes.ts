import type { RequestHandler } from 'express';
import type { Cluster } from '../cluster/cluster.js';

const COOKIE = 'dbrouter_demo_wrote';

/**
 * The demo's stand-in for dbrouter's consistency middleware (`dbrouter/express`): after a request
 * that may write (any method but GET/HEAD/OPTIONS), the same browser's requests read from the
 * primary for `windowMillis`, through a cookie — the classic time window. The real middleware
 * replaces this with one line in run.ts and reads from a replica as soon as it has the write.
 *
 * @example
 *   app.use(stickyAfterWrite(cluster, { windowMillis: 5000 }));
 */
export function stickyAfterWrite(cluster: Cluster, options: { windowMillis?: number } = {}): RequestHandler {
  const windowMillis = options.windowMillis ?? 5000;
  return function demoStickyAfterWrite(req, res, next) {
    if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method)) {
      res.setHeader('set-cookie', `${COOKIE}=${Date.now()}; Path=/; Max-Age=${Math.ceil(windowMillis / 1000)}; HttpOnly; SameSite=Lax`);
      next();
      return;
    }
    const match = new RegExp(`(?:^|;\\s*)${COOKIE}=(\\d+)`).exec(req.headers.cookie ?? '');
    const wroteAt = match?.[1] ? Number(match[1]) : 0;
    if (Date.now() - wroteAt < windowMillis) cluster.primary(() => next());
    else next();
  };
}
