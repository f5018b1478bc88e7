/**
 * `dbrouter/koa`: read-your-writes across requests for Koa, through a signed token in a cookie
 * and a header (see {@link koaConsistency}).
 *
 * @module
 */
import { HttpConsistency, type HttpConsistencyOptions } from './core.js';

export type { HttpConsistencyOptions } from './core.js';

/** The part of Koa's `Context` that {@link koaConsistency} uses (a structural type: Koa 2 and 3 fit). */
export interface KoaContext {
  /** The request method: GET, HEAD and OPTIONS read, others may write. */
  readonly method: string;
  /** The request path, for the cookie's scope. */
  readonly path: string;
  /** A request header (`Cookie`, the token header); `''` when absent. */
  get(field: string): string;
  /** Sets a response header (the token header). */
  set(field: string, value: string): void;
  /** Adds a response header without replacing one already set (`Set-Cookie`). */
  append(field: string, value: string): void;
  /** The Node response: its `close` before it finished means the client went away (waits stop). */
  readonly res: {
    /** Listens for the response's `close`. */
    once(event: 'close', fn: () => void): unknown;
    /** True once the whole response was handed to the OS. */
    readonly writableFinished: boolean;
  };
}

/**
 * Koa middleware: one unit of work per request. GET, HEAD and OPTIONS read under session
 * consistency, other methods run on the primary; after a request that wrote, the token goes out
 * in a signed cookie and the `X-DBRouter-Token` header.
 *
 * @example
 *   import { koaConsistency } from 'dbrouter/koa';
 *   app.use(koaConsistency({ cluster, secret: process.env.DBROUTER_SECRET }));
 *   router.post('/notes', async (ctx) => { await pool.query('INSERT …'); ctx.status = 303; ctx.redirect('/notes'); });
 */
export function koaConsistency(options: HttpConsistencyOptions): (ctx: KoaContext, next: () => Promise<unknown>) => Promise<void> {
  const http = new HttpConsistency(options, 'koaConsistency');
  const header = http.headerName;
  return async function dbrouterConsistency(ctx, next): Promise<void> {
    const abort = new AbortController();
    ctx.res.once('close', () => {
      if (!ctx.res.writableFinished) abort.abort();
    });
    const unit = http.start(ctx.method, ctx.path, ctx.get('cookie'), ctx.get(header), abort.signal);
    try {
      await unit.run(next);
    } finally {
      const o = await unit.outcome();
      if (o !== undefined) {
        ctx.set(header, o.token);
        if (o.setCookie !== undefined) ctx.append('Set-Cookie', o.setCookie);
      }
    }
  };
}
