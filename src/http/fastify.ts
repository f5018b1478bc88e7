/**
 * `dbrouter/fastify`: read-your-writes across requests for Fastify, with a consistency level per
 * route (see {@link fastifyConsistency}).
 *
 * @module
 */
import { AsyncResource } from 'node:async_hooks';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ConsistencyLevel } from '../consistency/levels.js';
import { HttpConsistency, type HttpConsistencyOptions, type RequestUnit } from './core.js';

export type { HttpConsistencyOptions } from './core.js';

const UNIT = Symbol('dbrouter.unit');
const RESOURCE = Symbol('dbrouter.resource');

interface Marked {
  [UNIT]?: RequestUnit;
  [RESOURCE]?: AsyncResource;
}

/** A route's own level: `{ config: { dbrouter: 'primary' } }` (`'primary'` is `'strong'`), as django-replicated's per-view decorators. */
export type RouteConsistency = ConsistencyLevel | 'primary';

function routeLevel(request: FastifyRequest): ConsistencyLevel | undefined {
  const v = (request.routeOptions.config as { dbrouter?: RouteConsistency } | undefined)?.dbrouter;
  return v === 'primary' ? 'strong' : v;
}

const plugin: FastifyPluginCallback<HttpConsistencyOptions> = (fastify, options, done) => {
  let http: HttpConsistency;
  try {
    http = new HttpConsistency(options, 'fastifyConsistency');
  } catch (e) {
    done(e as Error);
    return;
  }
  const header = http.headerName;
  fastify.addHook('onRequest', (request: FastifyRequest & Marked, reply: FastifyReply, next) => {
    const abort = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) abort.abort();
    });
    const h = request.headers[header];
    const unit = http.start(request.method, request.url.split('?')[0] ?? '/', request.headers.cookie, Array.isArray(h) ? h[0] : h, abort.signal, routeLevel(request));
    request[UNIT] = unit;
    // Body parsing runs outside this async context; the resource carries it to the handler (as @fastify/request-context does).
    unit.run(() => {
      request[RESOURCE] = new AsyncResource('dbrouter.request');
      next();
    });
  });
  fastify.addHook('preHandler', (request: FastifyRequest & Marked, _reply: FastifyReply, next) => {
    const r = request[RESOURCE];
    if (r === undefined) next();
    else r.runInAsyncScope(next);
  });
  fastify.addHook('onSend', async (request: FastifyRequest & Marked, reply: FastifyReply, payload: unknown) => {
    const o = await request[UNIT]?.outcome();
    if (o !== undefined) {
      void reply.header(header, o.token);
      if (o.setCookie !== undefined) {
        const prev = reply.getHeader('set-cookie');
        const list = Array.isArray(prev) ? prev.map(String) : typeof prev === 'string' || typeof prev === 'number' ? [String(prev)] : [];
        void reply.header('set-cookie', [...list, o.setCookie]);
      }
    }
    return payload;
  });
  done();
};

/**
 * Fastify plugin (Fastify 4 and 5): one unit of work per request. GET, HEAD and OPTIONS read under
 * session consistency, other methods run on the primary; a route can choose with
 * `config: { dbrouter: 'primary' | 'session' | 'eventual' | { maxStalenessMillis } }`. After a
 * request that wrote, the token goes out in a signed cookie and the `X-DBRouter-Token` header. It
 * opens nothing and closes nothing: the cluster and its pools stay yours.
 *
 * @example
 *   import { fastifyConsistency } from 'dbrouter/fastify';
 *   await app.register(fastifyConsistency, { cluster, secret: process.env.DBROUTER_SECRET });
 *   app.post('/notes', async (req, reply) => { await pool.query('INSERT …'); return reply.redirect('/notes', 303); });
 *   app.get('/report', { config: { dbrouter: 'eventual' } }, async () => report());
 */
export const fastifyConsistency = fp(plugin, { fastify: '4.x || 5.x', name: 'dbrouter-consistency' });
export default fastifyConsistency;
