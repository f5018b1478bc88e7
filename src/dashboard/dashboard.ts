import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Cluster } from '../cluster/cluster.js';
import { DbRouterError } from '../errors.js';
import { checkMillis, checkOptions, checkWhole } from '../options.js';
import type { ClusterHealth } from '../health/cluster-health.js';
import type { LocalCluster } from '../local/types.js';
import { DashboardCollector } from './collector.js';
import { PAGE } from './page.js';

/**
 * Options of {@link dashboard}. `authorize` is required: the dashboard shows your topology and
 * statement texts, so it answers nobody until your own access check says yes.
 *
 * @example
 *   dashboard(cluster, { health, authorize: (req) => req.headers['x-admin-token'] === process.env.ADMIN_TOKEN })
 */
export interface DashboardOptions {
  /** Your access check, run on every request; `false` answers 403. */
  readonly authorize: (req: IncomingMessage) => boolean | Promise<boolean>;
  /** The health monitor (`watchCluster`) whose view of roles, states and lag the page shows. */
  readonly health?: ClusterHealth;
  /** A local cluster (`dbrouter/cluster`) the page may pause, kill, start and promote — only with `controls: true`. */
  readonly localCluster?: LocalCluster;
  /** Turn on the control endpoints (POST `control`). Needs `localCluster`. Default false. */
  readonly controls?: boolean;
  /** How often lag is sampled for the chart. Default 1000. */
  readonly sampleIntervalMillis?: number;
  /** How much lag history the chart keeps. Default 300000 (5 minutes). */
  readonly historyMillis?: number;
  /** How many recent statements the page lists. Default 40. */
  readonly recentStatements?: number;
}

/** A Node `http` request handler that also works as Express/Connect middleware. `close()` stops its sampling. */
export interface DashboardHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void;
  /** Stops the periodic sampling and detaches from the cluster's events, so the process can exit. Idempotent. */
  close(): void;
}

const ACTIONS = ['pause', 'resume', 'kill', 'start', 'promote'] as const;
type Action = (typeof ACTIONS)[number];
const PAST: Record<Action, string> = { pause: 'paused replay on', resume: 'resumed replay on', kill: 'killed', start: 'started', promote: 'promoted' };

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // The page is self-contained: inline script and style, data only from its own origin.
    'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

function readBody(req: IncomingMessage, limit = 4096): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new DbRouterError('USAGE', 'request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * The dashboard: a self-contained page (no build step, nothing from a CDN) with the topology,
 * a lag chart per replica, statements routed per node and reason, the most recent statement
 * texts (never their parameters) and the health events. Mount it where you like; it is off
 * unless you do, and every request passes your `authorize` first.
 *
 * Routes, relative to where it is mounted: `GET /` the page, `GET /state` its JSON, and with a
 * local cluster and `controls: true`, `POST /control` `{ action: 'pause'|'resume'|'kill'|'start'|'promote', alias }`
 * (requests must carry the header `x-dbrouter-dashboard: 1`, which a cross-site form cannot send).
 *
 * @example
 *   import express from 'express';
 *   import { dashboard } from 'dbrouter/dashboard';
 *   app.use('/dbrouter', dashboard(cluster, { health, authorize: (req) => isAdmin(req) }));
 *   // or standalone: http.createServer(dashboard(cluster, { authorize: () => true })).listen(4000, '127.0.0.1')
 */
export function dashboard(cluster: Cluster, options: DashboardOptions): DashboardHandler {
  const o = checkOptions('dashboard() options', options, ['authorize', 'health', 'localCluster', 'controls', 'sampleIntervalMillis', 'historyMillis', 'recentStatements'], '{ authorize: (req) => isAdmin(req) }');
  checkMillis('dashboard() sampleIntervalMillis', o.sampleIntervalMillis, 1);
  checkMillis('dashboard() historyMillis', o.historyMillis, 1);
  checkWhole('dashboard() recentStatements', o.recentStatements, 0, 10_000, 40);
  if (typeof options?.authorize !== 'function') {
    throw new DbRouterError('CONFIG_INVALID', 'dashboard() needs authorize: (req) => boolean, your own access check; the dashboard answers nobody without one.');
  }
  if (options.controls && !options.localCluster) {
    throw new DbRouterError('CONFIG_INVALID', 'dashboard({ controls: true }) needs localCluster: controls act on a local cluster (dbrouter/cluster), never on your servers.');
  }
  const collector = new DashboardCollector(cluster, {
    health: options.health,
    sampleIntervalMillis: options.sampleIntervalMillis ?? 1000,
    historyMillis: options.historyMillis ?? 300_000,
    recentStatements: options.recentStatements ?? 40,
  });
  const local = options.controls ? options.localCluster : undefined;
  collector.controls = local !== undefined;
  let busy = false;

  async function control(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!local) return json(res, 404, { error: 'controls are off: dashboard({ localCluster, controls: true }) turns them on' });
    if (req.headers['x-dbrouter-dashboard'] !== '1') return json(res, 403, { error: 'missing header x-dbrouter-dashboard: 1' });
    let body: { action?: unknown; alias?: unknown };
    try {
      body = JSON.parse(await readBody(req)) as typeof body;
    } catch {
      return json(res, 400, { error: 'the body must be JSON: {"action":"pause","alias":"replica1"}' });
    }
    const { action, alias } = body;
    if (!ACTIONS.includes(action as Action)) return json(res, 400, { error: `action must be one of ${ACTIONS.join(', ')}` });
    if (typeof alias !== 'string' || !(alias in local.databases)) return json(res, 400, { error: `alias must be one of ${Object.keys(local.databases).join(', ')}` });
    if (busy) return json(res, 409, { error: 'another control is still running; try again in a moment' });
    busy = true;
    const started = performance.now();
    try {
      await local[action as Action](alias);
      const text = `${PAST[action as Action]} ${alias} (${Math.round(performance.now() - started)} ms)`;
      collector.note(text);
      json(res, 200, { ok: true, text });
    } catch (e) {
      json(res, 409, { error: e instanceof Error ? e.message : String(e) });
    } finally {
      busy = false;
    }
  }

  async function serve(req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const route = url.pathname.replace(/\/+$/, '') || '/';
    const known = route === '/' || route === '/state' || route === '/control';
    if (!known) {
      if (next) return next();
      return send(res, 404, 'text/plain; charset=utf-8', 'not found');
    }
    if (!(await options.authorize(req))) return send(res, 403, 'text/plain; charset=utf-8', 'forbidden: the dashboard\'s authorize() said no');
    if (route === '/' && req.method === 'GET') {
      // Relative URLs in the page need the mount point to end with a slash.
      const original = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
      const path = original.split('?')[0] ?? '/';
      if (!path.endsWith('/')) {
        res.writeHead(308, { location: `${path}/` });
        res.end();
        return;
      }
      return send(res, 200, 'text/html; charset=utf-8', PAGE);
    }
    if (route === '/state' && req.method === 'GET') return json(res, 200, collector.state());
    if (route === '/control' && req.method === 'POST') return control(req, res);
    res.setHeader('allow', route === '/control' ? 'POST' : 'GET');
    return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed');
  }

  const handler = function dbrouterDashboard(req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void {
    serve(req, res, next).catch((e: unknown) => {
      if (next) next(e);
      else if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'dashboard error');
      else res.destroy();
    });
  } as DashboardHandler;
  handler.close = () => collector.close();
  return handler;
}
