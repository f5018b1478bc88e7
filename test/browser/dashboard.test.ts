// The demo in a real headless Chromium (Debian's, driven by playwright-core; no browser download):
// a note posted through the guestbook's form shows after the redirect while both replicas are
// paused, the dashboard's lag chart moves, and a failover triggered from the dashboard's own
// controls shows the new primary on the page. Screenshots go to test-artifacts/. (Page-side checks
// are strings: this project's TypeScript has no DOM library.)
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { engineSkip } from '../harness/clusters.js';
import { ROOT, spawnDemo, type DemoProcess } from '../integration/demo-process.js';

const CHROMIUM = process.env.DBROUTER_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

function chromiumSkip(): string | false {
  if (existsSync(CHROMIUM)) return false;
  if (process.env.CI === 'true') return false; // CI must have it: the launch below then fails loudly
  const reason = `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set DBROUTER_CHROMIUM)`;
  process.stderr.write(`# SKIP ${reason}\n`);
  return reason;
}

const skip = chromiumSkip() || (await engineSkip('postgres'));

describe('the dashboard in headless Chromium, with the demo running', { skip }, () => {
  let demo: DemoProcess;
  let browser: Browser;
  let app: Page;
  let board: Page;
  let appUrl = '';
  let dashboardUrl = '';

  const shot = async (page: Page, name: string): Promise<void> => {
    await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
  };

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    demo = spawnDemo(['--port', '0']);
    appUrl = (await demo.waitFor(/^\s+guestbook\s+(http\S+)/))[1]!;
    dashboardUrl = (await demo.waitFor(/^\s+dashboard\s+(http\S+)/))[1]!;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    // The page-side string predicates are eval() to the page's CSP.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    board = await context.newPage();
    app = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    if (demo && demo.child.exitCode === null) {
      demo.child.kill('SIGINT');
      const code = await demo.exited;
      assert.equal(code, 0, `the demo did not stop cleanly:\n${demo.output()}\n${demo.stderr()}`);
      assert.match(demo.output(), /stopped in \d+ ms: cluster, app and dashboard removed/);
    }
  });

  test('the dashboard shows the topology: default primary, two replicas in reads', async () => {
    await board.goto(dashboardUrl);
    await board.waitForSelector('.node[data-alias="default"][data-role="primary"]');
    await board.waitForFunction('document.querySelectorAll(\'.node[data-role="replica"][data-state="up"]\').length === 2');
    assert.equal(await board.textContent('#primary'), 'default');
    await board.waitForFunction('Number(document.getElementById("total")?.textContent) > 0', undefined, { timeout: 10_000 });
  });

  test('with replay paused from the dashboard, a note posted through the form shows after the redirect', async () => {
    for (const alias of ['replica1', 'replica2']) {
      await board.click(`button[data-action="pause"][data-alias="${alias}"]`);
      await board.waitForSelector(`button[data-action="resume"][data-alias="${alias}"]`, { timeout: 10_000 });
    }
    await app.goto(appUrl);
    const body = `written while the replicas are paused ${Date.now()}`;
    await app.fill('input[name="author"]', 'Chromium');
    await app.fill('textarea[name="body"]', body);
    await Promise.all([app.waitForURL(/\?added=\d+/), app.click('button[type="submit"]')]);
    const added = new URL(app.url()).searchParams.get('added');
    assert.ok(added);
    assert.equal(await app.textContent(`li[data-note-id="${added}"] p`), body);
    assert.match((await app.textContent('#flash')) ?? '', new RegExp(`Note #${added} added`));
    await shot(app, 'guestbook-after-post.png');
  });

  test('the lag chart moves and the lagging replicas leave the reads', async () => {
    await board.waitForFunction(
      `['replica1', 'replica2'].every((a) => Number(document.querySelector('#chart path[data-alias="' + a + '"]')?.getAttribute('data-last')) > 1000)`,
      undefined,
      { timeout: 20_000 },
    );
    await board.waitForSelector('.node[data-alias="replica1"][data-state="lagging"]', { timeout: 10_000 });
    const points = Number(await board.getAttribute('#chart path[data-alias="replica1"]', 'data-points'));
    assert.ok(points >= 3, `the chart has ${points} points for replica1`);
    await shot(board, 'dashboard-lagging.png');
    for (const alias of ['replica1', 'replica2']) {
      await board.click(`button[data-action="resume"][data-alias="${alias}"]`);
      await board.waitForSelector(`button[data-action="pause"][data-alias="${alias}"]`, { timeout: 10_000 });
    }
    await board.waitForSelector('.node[data-alias="replica1"][data-state="up"]', { timeout: 15_000 });
  });

  test('a failover from the dashboard\'s controls: kill the primary, promote replica1; the page shows the new primary and writes follow', async () => {
    await board.click('button[data-action="kill"][data-alias="default"]');
    await board.waitForSelector('.node[data-alias="default"][data-state="down"]', { timeout: 10_000 });
    await board.click('button[data-action="promote"][data-alias="replica1"]');
    await board.waitForFunction('document.getElementById("primary")?.textContent === "replica1"', undefined, { timeout: 15_000 });
    await board.waitForSelector('.node[data-alias="replica1"][data-role="primary"]');
    await board.waitForFunction('[...document.querySelectorAll("#events li")].some((li) => li.textContent.includes("primary changed: default → replica1"))');
    await shot(board, 'dashboard-after-failover.png');

    await app.goto(appUrl);
    await app.fill('input[name="author"]', 'Chromium');
    await app.fill('textarea[name="body"]', 'written after the failover');
    await Promise.all([app.waitForURL(/\?added=\d+/), app.click('button[type="submit"]')]);
    const added = new URL(app.url()).searchParams.get('added');
    assert.equal(await app.textContent(`li[data-note-id="${added}"] p`), 'written after the failover');
    await board.waitForFunction('Number(document.querySelector(\'#routed tr[data-alias="replica1"] td:nth-child(3)\')?.textContent) > 0');
    if (process.env.DBROUTER_DOCS_SCREENSHOT) await shot(board, path.relative(ARTIFACTS, path.join(ROOT, process.env.DBROUTER_DOCS_SCREENSHOT)));
  });
});
