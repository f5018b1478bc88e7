/**
 * `dbrouter/express`: read-your-writes across requests for Express, through a signed token in a
 * cookie and a header (see {@link expressConsistency}).
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { appendSetCookie, HttpConsistency, type HttpConsistencyOptions, type RequestOutcome } from './core.js';

export type { HttpConsistencyOptions } from './core.js';

type Sending = 'writeHead' | 'write' | 'end' | 'flushHeaders';

/**
 * Express middleware (4 and 5): one unit of work per request. GET, HEAD and OPTIONS read under
 * session consistency, other methods run on the primary; after a request that wrote, the token goes
 * out in a signed `HttpOnly; SameSite=Lax` cookie and the `X-DBRouter-Token` header, so the next
 * request of that browser or client reads its own write. Mount it after body parsers.
 *
 * The cookie must be set before the headers leave, and its value may need one round trip to the
 * primary: like express-session, it holds the response (`end`, and `write`/`writeHead` when a
 * handler streams) until the token is ready, then sends what was held, in order.
 *
 * @example
 *   import { expressConsistency } from 'dbrouter/express';
 *   app.use(express.urlencoded({ extended: false }));
 *   app.use(expressConsistency({ cluster, secret: process.env.DBROUTER_SECRET }));
 *   app.post('/notes', async (req, res) => { await pool.query('INSERT …'); res.redirect(303, '/notes'); });
 *   app.get('/notes', async (req, res) => res.json((await pool.query('SELECT …')).rows)); // sees the insert
 */
export function expressConsistency(options: HttpConsistencyOptions): (req: IncomingMessage & { path?: string }, res: ServerResponse, next: (err?: unknown) => void) => void {
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
    // Whatever sends the headers first (end, write, writeHead, flushHeaders) waits for the token
    // when it needs a round trip; calls made meanwhile are queued and replayed in order.
    const flush = res.flushHeaders.bind(res);
    const original: Record<Sending, (...a: unknown[]) => unknown> = {
      writeHead: res.writeHead.bind(res) as (...a: unknown[]) => unknown,
      write: res.write.bind(res) as (...a: unknown[]) => unknown,
      end: res.end.bind(res) as (...a: unknown[]) => unknown,
      flushHeaders: () => flush(),
    };
    let decided = false;
    let queue: [Sending, unknown[]][] | undefined;
    const held = (name: Sending): unknown => (name === 'write' ? true : name === 'flushHeaders' ? undefined : res);
    const intercept = (name: Sending) => function dbrouterHold(...args: unknown[]): unknown {
      if (decided || res.headersSent) return original[name](...args);
      if (queue !== undefined) {
        queue.push([name, args]);
        return held(name);
      }
      const o = unit.outcome();
      if (!(o instanceof Promise)) {
        apply(o);
        decided = true;
        return original[name](...args);
      }
      queue = [[name, args]];
      o.then(apply, () => {}).finally(() => {
        decided = true;
        const calls = queue ?? [];
        queue = undefined;
        for (const [n, a] of calls) original[n](...a);
      });
      return held(name);
    };
    res.writeHead = intercept('writeHead') as ServerResponse['writeHead'];
    res.write = intercept('write') as ServerResponse['write'];
    res.end = intercept('end') as ServerResponse['end'];
    res.flushHeaders = intercept('flushHeaders');
    unit.run(() => next());
  };
}
