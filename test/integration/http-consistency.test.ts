// GET after POST through each framework's middleware (Express, Fastify, Koa, Hono) on real
// clusters of both engines, with replay paused on every replica: the redirected GET that carries
// the cookie sees the write (and the statement log shows it ran on the primary); another user's
// GET is served by a replica; after resume the first user's reads return to replicas; the header
// form works for an API client; a job run with the token sees the write; a GET that writes reads
// its own write; a request aborted while its read waits stops waiting. Sessions in the store survive lag.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { serve } from '@hono/node-server';
import express from 'express';
import session from 'express-session';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import koaSession from 'koa-session';
import { expressConsistency } from '../../src/http/express.js';
import { fastifyConsistency } from '../../src/http/fastify.js';
import { honoConsistency } from '../../src/http/hono.js';
import { koaConsistency } from '../../src/http/koa.js';
import { createSessionStore, type SessionStore } from '../../src/http/session-store.js';
import { isDbRouterError } from '../../src/index.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';
import { primaryConnection, routedDb, SECRET, withReplicasPaused, type Db } from './consistency-helpers.js';

type Framework = 'express' | 'fastify' | 'koa' | 'hono';
const FRAMEWORKS: readonly Framework[] = ['express', 'fastify', 'koa', 'hono'];

interface App {
  readonly base: string;
  close(): Promise<void>;
}

let seq = 0;
const newKey = () => Date.now() * 1000 + (seq++ % 1000);

/** What every app does, framework aside. */
function handlers(d: Db) {
  const read = async (key: number) => {
    const rows = await d.q(`SELECT (SELECT body FROM http_notes WHERE id = ?) AS body, ${d.PORT}`, [key]);
    return { body: (rows[0]?.body as string | null) ?? null, alias: d.aliasOf(rows) };
  };
  return {
    create: async (body: string) => {
      const key = newKey();
      await d.q('INSERT INTO http_notes (id, body) VALUES (?, ?)', [key, body]);
      return key;
    },
    read,
    /** A GET that writes (lazy registration), then reads in the same request. */
    lazy: async () => {
      const key = newKey();
      await d.q('INSERT INTO http_notes (id, body) VALUES (?, ?)', [key, 'lazy']);
      return { key, ...(await read(key)) };
    },
  };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function readJson(req: NodeJS.ReadableStream): Promise<{ body?: string }> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text === '' ? {} : (JSON.parse(text) as { body?: string });
}

async function startApp(framework: Framework, d: Db): Promise<App> {
  const h = handlers(d);
  const cluster = d.cluster;
  switch (framework) {
    case 'express': {
      const app = express();
      app.use(express.json());
      app.use(expressConsistency({ cluster, secret: SECRET }));
      type Handler = (req: express.Request, res: express.Response) => Promise<void>;
      const wrap = (fn: Handler) => (req: express.Request, res: express.Response, next: express.NextFunction) => void fn(req, res).catch(next);
      app.post('/notes', wrap(async (req, res) => res.redirect(303, `/notes/${await h.create(String((req.body as { body: string }).body))}`)));
      app.get('/notes/:key', wrap(async (req, res) => void res.json(await h.read(Number(req.params.key)))));
      app.get('/lazy', wrap(async (_req, res) => void res.json(await h.lazy())));
      app.get('/eventual/:key', (_req, _res, next) => cluster.consistency('eventual', next), wrap(async (req, res) => void res.json(await h.read(Number(req.params.key)))));
      const server = createServer(app);
      return { base: await listen(server), close: () => closeServer(server) };
    }
    case 'fastify': {
      const app = Fastify();
      await app.register(fastifyConsistency, { cluster, secret: SECRET });
      app.post('/notes', async (req, reply) => reply.redirect(`/notes/${await h.create((req.body as { body: string }).body)}`, 303));
      app.get('/notes/:key', async (req) => h.read(Number((req.params as { key: string }).key)));
      app.get('/lazy', async () => h.lazy());
      app.get('/eventual/:key', { config: { dbrouter: 'eventual' } }, async (req) => h.read(Number((req.params as { key: string }).key)));
      await app.listen({ port: 0, host: '127.0.0.1' });
      return { base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
    }
    case 'koa': {
      const app = new Koa();
      app.use(koaConsistency({ cluster, secret: SECRET }));
      app.use(async (ctx) => {
        const m = /^\/notes\/(\d+)$/.exec(ctx.path);
        if (ctx.method === 'POST' && ctx.path === '/notes') {
          const key = await h.create((await readJson(ctx.req)).body ?? '');
          ctx.status = 303;
          ctx.redirect(`/notes/${key}`);
        } else if (ctx.method === 'GET' && m) ctx.body = await h.read(Number(m[1]));
        else if (ctx.method === 'GET' && ctx.path === '/lazy') ctx.body = await h.lazy();
      });
      const callback = app.callback();
      const server = createServer((req, res) => void callback(req, res));
      return { base: await listen(server), close: () => closeServer(server) };
    }
    case 'hono': {
      const app = new Hono();
      app.use(honoConsistency({ cluster, secret: SECRET }));
      app.post('/notes', async (c) => c.redirect(`/notes/${await h.create((await c.req.json<{ body: string }>()).body)}`, 303));
      app.get('/notes/:key', async (c) => c.json(await h.read(Number(c.req.param('key')))));
      app.get('/lazy', async (c) => c.json(await h.lazy()));
      const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
      await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
      return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => closeServer(server) };
    }
  }
}

const post = (base: string, body: string) =>
  fetch(`${base}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ body }), redirect: 'manual' });
const getJson = async (url: string, headers: Record<string, string> = {}) => (await (await fetch(url, { headers })).json()) as { body: string | null; alias: string; key?: number };

for (const engine of ['postgres', 'mariadb'] as const) {
  describe(`HTTP read-your-writes on ${engine}`, { skip: await engineSkip(engine) }, () => {
    let local: LocalCluster;
    const dbs: Db[] = [];
    before(async () => {
      local = await sharedCluster(engine);
      const d = routedDb(local);
      dbs.push(d);
      await d.q('DROP TABLE IF EXISTS http_notes');
      await d.q('CREATE TABLE http_notes (id bigint PRIMARY KEY, body varchar(200))');
      await local.waitForAllReplicas();
    });
    after(async () => {
      await Promise.all(dbs.map((d) => d.end()));
    });

    for (const framework of FRAMEWORKS) {
      test(`${framework}: POST then the redirected GET sees the write (primary); another user reads a replica; replicas again after resume; header form; a job with the token`, async () => {
        const d = routedDb(local, { consistency: { secret: SECRET } });
        dbs.push(d);
        const app = await startApp(framework, d);
        try {
          let cookie = '';
          let token = '';
          let location = '';
          await withReplicasPaused(local, async () => {
            const res = await post(app.base, `${framework}-note`);
            assert.equal(res.status, 303);
            location = res.headers.get('location')!;
            token = res.headers.get('x-dbrouter-token') ?? '';
            assert.match(token, /^v1\./);
            const set = res.headers.getSetCookie().find((c) => c.startsWith('dbrouter_ryw='));
            assert.ok(set, 'the token cookie is set');
            assert.match(set, /; Max-Age=\d+/);
            assert.match(set, /; Path=\//);
            assert.match(set, /; HttpOnly/);
            assert.match(set, /; SameSite=Lax/);
            cookie = set.split(';')[0]!;
            assert.equal(d.cluster.queries.at(-1)!.alias, 'default', 'the POST wrote on the primary');

            const mine = await getJson(app.base + location, { cookie });
            assert.deepEqual(mine, { body: `${framework}-note`, alias: 'default' });
            assert.deepEqual([d.cluster.queries.at(-1)!.alias, d.cluster.queries.at(-1)!.reason], ['default', 'read-your-writes']);

            const theirs = await getJson(app.base + location);
            assert.equal(theirs.body, null, 'another user is served by a lagging replica');
            assert.match(theirs.alias, /^replica/);

            const api = await getJson(app.base + location, { 'x-dbrouter-token': token });
            assert.deepEqual(api, { body: `${framework}-note`, alias: 'default' }, 'the header form');

            const key = Number(location.split('/').pop());
            const job = await d.cluster.withToken(token, () => handlers(d).read(key));
            assert.deepEqual(job, { body: `${framework}-note`, alias: 'default' }, 'a job run with the token');

            const lazy = await getJson(`${app.base}/lazy`);
            assert.deepEqual([lazy.body, lazy.alias], ['lazy', 'default'], 'a GET that writes reads its own write');

            if (framework === 'express' || framework === 'fastify') {
              const perRoute = await getJson(app.base + location.replace('/notes/', '/eventual/'), { cookie });
              assert.match(perRoute.alias, /^replica/, 'a route at eventual reads a replica even with the cookie');
            }

            // One signature character changed for another (replacing the last two with a fixed 'xx' was a
            // no-op when they already were, or touched only the last character's unused bits).
            const at = cookie.length - 5;
            const forged = `${cookie.slice(0, at)}${cookie[at] === 'A' ? 'B' : 'A'}${cookie.slice(at + 1)}`;
            const tampered = await getJson(app.base + location, { cookie: forged });
            assert.match(tampered.alias, /^replica/, 'a tampered cookie is ignored');
          });
          const later = await getJson(app.base + location, { cookie });
          assert.equal(later.body, `${framework}-note`);
          assert.match(later.alias, /^replica/, 'after resume, the first user reads replicas again');
          const stats = d.cluster.consistencyStats();
          assert.equal(stats.tokens.rejected.tampered, 1);
          assert.equal(stats.tokens.accepted, framework === 'express' || framework === 'fastify' ? 5 : 4);
        } finally {
          await app.close();
        }
      });

      test(`${framework}: a request aborted while its read waits for a replica stops waiting`, async () => {
        const d = routedDb(local, { consistency: { secret: SECRET, onBehind: 'wait', waitMillis: 10_000 } });
        dbs.push(d);
        const app = await startApp(framework, d);
        try {
          await withReplicasPaused(local, async () => {
            const res = await post(app.base, 'slow');
            const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
            const abort = new AbortController();
            const t0 = performance.now();
            const pending = fetch(app.base + res.headers.get('location')!, { headers: { cookie }, signal: abort.signal }).catch(() => undefined);
            while (d.cluster.consistencyStats().waits === 0 && performance.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
            assert.equal(d.cluster.consistencyStats().waits, 1, 'the read is waiting');
            abort.abort();
            await pending;
            while (d.cluster.consistencyStats().waitsAborted === 0 && performance.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
            assert.equal(d.cluster.consistencyStats().waitsAborted, 1);
            assert.ok(performance.now() - t0 < 1500, `stopped waiting ${Math.round(performance.now() - t0)} ms after the start, not after waitMillis`);
          });
        } finally {
          await app.close();
        }
      });
    }

    test('express: a handler that streams or calls writeHead itself after writing still sends the token', async () => {
      const d = routedDb(local, { consistency: { secret: SECRET } });
      dbs.push(d);
      const h = handlers(d);
      const app = express();
      app.use(expressConsistency({ cluster: d.cluster, secret: SECRET }));
      app.post('/stream', (_req, res, next) => {
        h.create('streamed').then((key) => {
          res.write(`${key}:`);
          res.write('a');
          res.end('b');
        }, next);
      });
      app.post('/raw-redirect', (_req, res, next) => {
        h.create('raw').then((key) => {
          res.writeHead(303, { location: `/notes/${key}` });
          res.end();
        }, next);
      });
      const server = createServer(app);
      const base = await listen(server);
      try {
        const streamed = await fetch(`${base}/stream`, { method: 'POST' });
        assert.match(await streamed.text(), /^\d+:ab$/);
        assert.match(streamed.headers.get('x-dbrouter-token') ?? '', /^v1\./);
        assert.ok(streamed.headers.getSetCookie().some((c) => c.startsWith('dbrouter_ryw=')));
        const raw = await fetch(`${base}/raw-redirect`, { method: 'POST', redirect: 'manual' });
        assert.equal(raw.status, 303);
        assert.match(raw.headers.get('location') ?? '', /^\/notes\/\d+$/);
        assert.match(raw.headers.get('x-dbrouter-token') ?? '', /^v1\./);
      } finally {
        await closeServer(server);
      }
    });

    test('a missing secret is refused at start (SECRET_MISSING) unless development: true', () => {
      const d = routedDb(local);
      dbs.push(d);
      for (const make of [() => expressConsistency({ cluster: d.cluster }), () => koaConsistency({ cluster: d.cluster }), () => honoConsistency({ cluster: d.cluster })]) {
        assert.throws(make, (e: unknown) => isDbRouterError(e, 'SECRET_MISSING'));
      }
      assert.equal(typeof expressConsistency({ cluster: d.cluster, development: true }), 'function');
    });

    test('fastify: a missing secret fails the plugin registration with SECRET_MISSING', async () => {
      const d = routedDb(local);
      dbs.push(d);
      const app = Fastify();
      await assert.rejects(async () => {
        await app.register(fastifyConsistency, { cluster: d.cluster });
        await app.ready();
      }, (e: unknown) => isDbRouterError(e, 'SECRET_MISSING'));
      await app.close();
    });

    test('session store (express-session): a fresh session is found on the next request with replicas paused, and makes no token', async () => {
      const d = routedDb(local, { consistency: { secret: SECRET } });
      dbs.push(d);
      const store: SessionStore = createSessionStore({ cluster: d.cluster, Store: session.Store, table: 'http_sessions' });
      const app = express();
      app.use(expressConsistency({ cluster: d.cluster, secret: SECRET }));
      app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, store: store as unknown as session.Store }));
      app.post('/login', (req, res) => {
        (req.session as unknown as { user: string }).user = 'ada';
        res.redirect(303, '/me');
      });
      app.get('/me', (req, res) => void res.json({ user: (req.session as unknown as { user?: string }).user ?? null }));
      const server = createServer(app);
      const base = await listen(server);
      try {
        await withReplicasPaused(local, async () => {
          const res = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual' });
          assert.equal(res.headers.get('x-dbrouter-token'), null, "the store's writes are not the user's");
          const sid = res.headers.getSetCookie().find((c) => c.startsWith('connect.sid='))!.split(';')[0]!;
          const me = (await (await fetch(`${base}/me`, { headers: { cookie: sid } })).json()) as { user: string | null };
          assert.equal(me.user, 'ada');
        });
      } finally {
        await closeServer(server);
        await store.close();
      }
    });

    test('session store: a get while the save of that session is still in flight waits for it (express-session saves while it answers)', async () => {
      const d = routedDb(local, { consistency: { secret: SECRET } });
      dbs.push(d);
      const store = createSessionStore({ cluster: d.cluster, table: 'http_sessions' });
      const sid = `inflight-${engine}-${Date.now()}`;
      // Another connection holds the session's row in an open transaction, so the store's save
      // blocks in the server: a read that does not wait for it would find no session.
      const blocker = await primaryConnection(local);
      try {
        await blocker.q('BEGIN');
        await blocker.q('INSERT INTO http_sessions (sid, sess, expires_at) VALUES (?, ?, ?)', [sid, '{"user":"old"}', Date.now() + 60_000]);
        const saved = new Promise<void>((resolve, reject) => store.set(sid, { user: 'grace', cookie: { maxAge: 60_000 } }, (e) => (e ? reject(e instanceof Error ? e : new Error('store failed', { cause: e })) : resolve())));
        const got = new Promise<unknown>((resolve, reject) => store.get(sid, (e, v) => (e ? reject(e instanceof Error ? e : new Error('store failed', { cause: e })) : resolve(v))));
        const blockedSql = engine === 'postgres'
          ? "SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'INSERT INTO http_sessions%'"
          : "SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE 'INSERT INTO http_sessions%'";
        for (let t0 = performance.now(); Number((await d.q(`/* dbrouter:strong */ ${blockedSql}`))[0]!.n) === 0;) {
          if (performance.now() - t0 > 5000) throw new Error('the save never reached the server');
        }
        await blocker.q('COMMIT');
        await saved;
        assert.equal((await got as { user?: string } | null)?.user, 'grace', 'the get waited for the save in flight');
      } finally {
        await blocker.end();
        await store.close();
      }
    });

    test('session store (koa-session, through store.koa()): a fresh session is found on the next request with replicas paused', async () => {
      const d = routedDb(local, { consistency: { secret: SECRET } });
      dbs.push(d);
      const store = createSessionStore({ cluster: d.cluster, table: 'http_sessions' });
      const app = new Koa();
      app.keys = [SECRET];
      app.use(koaSession({ store: store.koa() }, app));
      app.use(koaConsistency({ cluster: d.cluster, secret: SECRET }));
      app.use((ctx) => {
        if (ctx.method === 'POST' && ctx.path === '/login') {
          ctx.session!.user = 'barbara';
          ctx.status = 303;
          ctx.redirect('/me');
        } else if (ctx.path === '/me') ctx.body = { user: (ctx.session?.user as string | undefined) ?? null };
      });
      const callback = app.callback();
      const server = createServer((req, res) => void callback(req, res));
      const base = await listen(server);
      try {
        await withReplicasPaused(local, async () => {
          const res = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual' });
          const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0]!).join('; ');
          const me = (await (await fetch(`${base}/me`, { headers: { cookie: cookies } })).json()) as { user: string | null };
          assert.equal(me.user, 'barbara');
        });
      } finally {
        await closeServer(server);
        await store.close();
      }
    });

    test('session store (@fastify/session): a fresh session is found on the next request with replicas paused', async () => {
      const d = routedDb(local, { consistency: { secret: SECRET } });
      dbs.push(d);
      const store = createSessionStore({ cluster: d.cluster, table: 'http_sessions' });
      const app = Fastify();
      await app.register(fastifyCookie);
      await app.register(fastifySession, { secret: SECRET, cookie: { secure: false }, saveUninitialized: false, store: store as never });
      await app.register(fastifyConsistency, { cluster: d.cluster, secret: SECRET });
      app.post('/login', async (req, reply) => {
        req.session.set('user' as never, 'grace' as never);
        return reply.redirect('/me', 303);
      });
      app.get('/me', (req, reply) => reply.send({ user: req.session.get('user' as never) ?? null }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      try {
        await withReplicasPaused(local, async () => {
          const res = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual' });
          const sid = res.headers.getSetCookie().find((c) => c.startsWith('sessionId='))!.split(';')[0]!;
          const me = (await (await fetch(`${base}/me`, { headers: { cookie: sid } })).json()) as { user: string | null };
          assert.equal(me.user, 'grace');
        });
      } finally {
        await app.close();
        await store.close();
      }
    });
  });
}
