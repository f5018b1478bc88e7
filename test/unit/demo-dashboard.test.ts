// The dashboard handler without servers behind it: the access check is required and enforced,
// the JSON carries statement texts but never a password, controls are off unless given a local
// cluster, and mounted as middleware it passes on what is not its own.
import assert from 'node:assert/strict';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createCluster } from '../../src/cluster/cluster.js';
import type { DashboardState } from '../../src/dashboard/collector.js';
import { dashboard, type DashboardHandler, type DashboardOptions } from '../../src/dashboard/dashboard.js';

const cluster = createCluster({
  databases: {
    default: { url: 'postgres://app:t0p-secret@127.0.0.1:1/app', role: 'primary' },
    replica1: { url: 'postgres://app:t0p-secret@127.0.0.1:2/app', role: 'replica' },
  },
});

describe('dashboard(cluster, options)', () => {
  let allowed = true;
  let handler: DashboardHandler;
  let server: http.Server;
  let base = '';
  let passedOn = 0;

  before(async () => {
    handler = dashboard(cluster, { authorize: () => allowed, sampleIntervalMillis: 50 });
    // Mounted as Express mounts it: the prefix stripped from req.url, kept in originalUrl.
    server = http.createServer((req: IncomingMessage & { originalUrl?: string }, res: ServerResponse) => {
      if (!req.url?.startsWith('/admin/db')) return res.writeHead(404).end();
      req.originalUrl = req.url;
      req.url = req.url.slice('/admin/db'.length) || '/';
      handler(req, res, () => {
        passedOn++;
        res.writeHead(418).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/db`;
  });
  after(() => {
    handler.close();
    server.close();
  });

  test('without an access check it refuses to exist; controls need a local cluster', () => {
    assert.throws(() => dashboard(cluster, {} as DashboardOptions), { code: 'CONFIG_INVALID', message: /needs authorize: \(req\) => boolean/ });
    assert.throws(() => dashboard(cluster, { authorize: () => true, controls: true }), { code: 'CONFIG_INVALID', message: /needs localCluster/ });
  });

  test('authorize() saying no is a 403 on every route', async () => {
    allowed = false;
    try {
      for (const p of ['/', '/state']) assert.equal((await fetch(`${base}${p}`)).status, 403, p);
      assert.equal((await fetch(`${base}/control`, { method: 'POST', body: '{}' })).status, 403);
    } finally {
      allowed = true;
    }
  });

  test('the page: self-contained, under a strict CSP, at the mount point with a trailing slash', async () => {
    const bare = await fetch(base, { redirect: 'manual' });
    assert.equal(bare.status, 308);
    assert.equal(bare.headers.get('location'), '/admin/db/');
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'.*connect-src 'self'/);
    const html = await page.text();
    assert.match(html, /<svg id="chart"/);
    assert.doesNotMatch(html, /<script src=|<link /, 'nothing loaded from elsewhere');
  });

  test('/state: nodes, routed statements by reason, recent statement texts, and no password', async () => {
    cluster.emit('route', { sql: 'SELECT * FROM notes WHERE id = $1', alias: 'replica1', role: 'replica', reason: 'select', durationMillis: 1.234, misroute: false, failed: false, at: Date.now() });
    const r = await fetch(`${base}/state`);
    const text = await r.text();
    assert.doesNotMatch(text, /t0p-secret/);
    const s = JSON.parse(text) as DashboardState;
    assert.equal(s.engine, 'PostgreSQL');
    assert.equal(s.primary, 'default');
    assert.deepEqual(s.nodes.map((n) => [n.alias, n.role, n.url]), [
      ['default', 'primary', 'postgres://app:***@127.0.0.1:1/app'],
      ['replica1', 'replica', 'postgres://app:***@127.0.0.1:2/app'],
    ]);
    assert.equal(s.recent[0]?.sql, 'SELECT * FROM notes WHERE id = $1');
    assert.equal(s.controls, false);
    assert.ok(s.lag.length >= 1);
  });

  test('controls are off without a local cluster; other paths pass on to the app', async () => {
    const r = await fetch(`${base}/control`, { method: 'POST', headers: { 'x-dbrouter-dashboard': '1' }, body: '{"action":"kill","alias":"default"}' });
    assert.equal(r.status, 404);
    assert.match(((await r.json()) as { error: string }).error, /controls are off/);
    assert.equal((await fetch(`${base}/elsewhere`)).status, 418);
    assert.equal(passedOn, 1);
  });
});
