/**
 * `dbrouter/hono`: read-your-writes across requests for Hono, through a signed token in a cookie
 * and a header (see {@link honoConsistency}).
 *
 * @module
 */
import { HttpConsistency, type HttpConsistencyOptions } from './core.js';

export type { HttpConsistencyOptions } from './core.js';

/** The part of Hono's `Context` that {@link honoConsistency} uses (a structural type: any Hono version that has these fits). */
export interface HonoContext {
  /** The request: its method and path, its `Cookie` and token headers, and the raw request's abort signal. */
  readonly req: {
    /** The HTTP method (`GET`, `POST`, …). */
    readonly method: string;
    /** The URL's path, without the query string. */
    readonly path: string;
    /** A request header, `undefined` when absent. */
    header(name: string): string | undefined;
    /** The runtime's own `Request`. */
    readonly raw: {
      /** Aborts when the client goes away: the request then stops waiting for replicas. */
      readonly signal?: AbortSignal;
    };
  };
  /** Sets a response header; `append: true` adds one (`Set-Cookie`) without replacing. */
  header(name: string, value: string, options?: { append?: boolean }): void;
}

/**
 * Hono middleware (on Node through @hono/node-server, and other runtimes with AsyncLocalStorage):
 * one unit of work per request. GET, HEAD and OPTIONS read under session consistency, other methods
 * run on the primary; after a request that wrote, the token goes out in a signed cookie and the
 * `X-DBRouter-Token` header. A request whose client goes away stops waiting for replicas.
 *
 * @example
 *   import { honoConsistency } from 'dbrouter/hono';
 *   app.use(honoConsistency({ cluster, secret: process.env.DBROUTER_SECRET }));
 *   app.post('/notes', async (c) => { await pool.query('INSERT …'); return c.redirect('/notes', 303); });
 */
export function honoConsistency(options: HttpConsistencyOptions): (c: HonoContext, next: () => Promise<void>) => Promise<void> {
  const http = new HttpConsistency(options, 'honoConsistency');
  const header = http.headerName;
  return async function dbrouterConsistency(c, next): Promise<void> {
    const unit = http.start(c.req.method, c.req.path, c.req.header('cookie'), c.req.header(header), c.req.raw.signal);
    await unit.run(next);
    const o = await unit.outcome();
    if (o !== undefined) {
      c.header(header, o.token);
      if (o.setCookie !== undefined) c.header('Set-Cookie', o.setCookie, { append: true });
    }
  };
}
