// `dbrouter demo`: the --smoke scenario on each engine (what CI runs), a port in use, and Ctrl-C
// during start-up leaving no process and no data behind.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { isAlive, processesMentioning } from '../../src/local/processes.js';
import { engineSkip } from '../harness/clusters.js';
import { spawnDemo } from './demo-process.js';

const pgSkip = await engineSkip('postgres');
const scratch = mkdtempSync(path.join(tmpdir(), 'dbrouter-demo-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

for (const engine of ['postgres', 'mariadb'] as const) {
  describe(`dbrouter demo --smoke (${engine})`, { skip: await engineSkip(engine) }, () => {
    test('every step of the scenario behaves and everything is removed', { timeout: 180_000 }, async () => {
      const demo = spawnDemo(['--smoke', '--engine', engine, '--port', '0']);
      const code = await demo.exited;
      const out = demo.output();
      process.stderr.write(out.split('\n').filter((l) => /^\s+(ok|FAIL)\s|^smoke|^ready|^stopped/.test(l)).map((l) => `# ${l}\n`).join(''));
      assert.equal(code, 0, `${out}\n${demo.stderr()}`);
      assert.doesNotMatch(out, /FAIL/);
      for (const step of ['write while replicas are paused', 'move reads to the primary', 'failover: kill the primary', 'writes resume on the new primary']) {
        assert.match(out, new RegExp(`^  ok    .*${step}`, 'm'), step);
      }
      assert.match(out, /^smoke passed in [\d.]+ s$/m);
    });
  });
}

describe('dbrouter demo: bad input', () => {
  let busy: Server;
  const listen = async (): Promise<number> => {
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    return (busy.address() as { port: number }).port;
  };
  after(() => busy?.close());

  test('the app\'s port in use: a clear error naming the port and --port, before any cluster starts', async () => {
    const port = await listen();
    const demo = spawnDemo(['--port', String(port), '--dashboard-port', '0', '--no-traffic']);
    assert.equal(await demo.exited, 1);
    assert.match(demo.stderr(), new RegExp(`port ${port} on 127\\.0\\.0\\.1 \\(the demo app\\) is in use: pass --port N with a free port, or --port 0 for any free port\\. \\[PORT_IN_USE\\]`));
    assert.doesNotMatch(demo.output(), /starting a local/);
  });

  test('the dashboard\'s port in use names --dashboard-port', async () => {
    const port = (busy.address() as { port: number }).port;
    const demo = spawnDemo(['--port', '0', '--dashboard-port', String(port), '--no-traffic']);
    assert.equal(await demo.exited, 1);
    assert.match(demo.stderr(), new RegExp(`port ${port} .*\\(the dashboard\\) is in use: pass --dashboard-port N`));
  });

  test('Ctrl-C during start-up: exit 130, no server process, no data left', { skip: pgSkip, timeout: 60_000 }, async () => {
    const dir = path.join(scratch, 'interrupted');
    const demo = spawnDemo(['--port', '0', '--dir', dir]);
    // The servers are running (their pids are in state.json) but the demo is not ready yet.
    await demo.waitFor(/^\s+configuring replication/);
    const state = JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8')) as { dataRoot: string; nodes: { pid: number | null }[] };
    const pids = state.nodes.map((n) => n.pid).filter((p): p is number => p !== null);
    assert.equal(pids.length, 3);
    demo.child.kill('SIGINT');
    const code = await demo.exited;
    assert.equal(code, 130, `${demo.output()}\n${demo.stderr()}`);
    assert.match(demo.stderr(), /interrupted during start-up; everything it had started was removed/);
    assert.doesNotMatch(demo.output(), /guestbook\s+http/);
    assert.deepEqual(pids.filter(isAlive), []);
    assert.deepEqual(processesMentioning(state.dataRoot), []);
    assert.equal(existsSync(state.dataRoot), false);
    assert.equal(existsSync(path.join(dir, 'state.json')), false);
  });

  test('Ctrl-C once running: everything stops, exit 0', { skip: pgSkip, timeout: 60_000 }, async () => {
    const dir = path.join(scratch, 'running');
    const demo = spawnDemo(['--port', '0', '--dir', dir]);
    await demo.waitFor(/^\s+dashboard\s+http/);
    const state = JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8')) as { dataRoot: string; nodes: { pid: number | null }[] };
    const pids = state.nodes.map((n) => n.pid).filter((p): p is number => p !== null);
    demo.child.kill('SIGINT');
    assert.equal(await demo.exited, 0, demo.stderr());
    assert.match(demo.output(), /stopped in \d+ ms: cluster, app and dashboard removed/);
    assert.deepEqual(pids.filter(isAlive), []);
    assert.equal(existsSync(state.dataRoot), false);
  });
});
