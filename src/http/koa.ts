import { HttpConsistency, type HttpConsistencyOptions } from './core.js';

export type { HttpConsistencyOptions } from './core.js';

/** The part of Koa's context this middleware uses. */
interface KoaContext {
  readonly method: string;
  readonly path: string;
  get(field: string): string;
  set(field: string, value: string): void;
  append(field: string, value: string): void;
  readonly res: { once(event: 'close', fn: () => void): unknown; readonly writableFinished: boolean };
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
