import type { IncomingMessage, ServerResponse } from 'node:http';
import { appendSetCookie, HttpConsistency, type HttpConsistencyOptions, type RequestOutcome } from './core.js';

export type { HttpConsistencyOptions } from './core.js';

type Next = (err?: unknown) => void;
type End = ServerResponse['end'];

/**
 * Express middleware (4 and 5): one unit of work per request. GET, HEAD and OPTIONS read under
 * session consistency, other methods run on the primary; after a request that wrote, the token goes
 * out in a signed `HttpOnly; SameSite=Lax` cookie and the `X-DBRouter-Token` header, so the next
 * request of that browser or client reads its own write. Mount it after body parsers.
 *
 * The cookie must be set before the headers leave, and its value may need one round trip to the
 * primary: like express-session, it holds `res.end` until the token is ready. A handler that
 * streams (`res.write` before `end`) gets its token only if it was ready by then.
 *
 * @example
 *   import { expressConsistency } from 'dbrouter/express';
 *   app.use(express.urlencoded({ extended: false }));
 *   app.use(expressConsistency({ cluster, secret: process.env.DBROUTER_SECRET }));
 *   app.post('/notes', async (req, res) => { await pool.query('INSERT …'); res.redirect(303, '/notes'); });
 *   app.get('/notes', async (req, res) => res.json((await pool.query('SELECT …')).rows)); // sees the insert
 */
export function expressConsistency(options: HttpConsistencyOptions): (req: IncomingMessage & { path?: string }, res: ServerResponse, next: Next) => void {
  const http = new HttpConsistency(options, 'expressConsistency');
  const header = http.headerName;
  return function dbrouterConsistency(req, res, next): void {
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const headerToken = req.headers[header];
    const unit = http.start(req.method ?? 'GET', req.path ?? req.url ?? '/', req.headers.cookie, Array.isArray(headerToken) ? headerToken[0] : headerToken, abort.signal);
    const apply = (o: RequestOutcome | undefined): void => {
      if (o === undefined || res.headersSent) return;
      res.setHeader(header, o.token);
      if (o.setCookie !== undefined) appendSetCookie(res, o.setCookie);
    };
    const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
    let held = false;
    res.end = function dbrouterEnd(...args: unknown[]): ServerResponse {
      if (held || res.headersSent) return end(...args);
      const o = unit.outcome();
      if (!(o instanceof Promise)) {
        apply(o);
        return end(...args);
      }
      held = true;
      o.then(apply, () => {}).finally(() => {
        end(...args);
      });
      return res;
    } as End;
    unit.run(() => next());
  };
}
