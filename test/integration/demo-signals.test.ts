// Issue 12: a signal sent to the `npm run demo` or `npx dbrouter demo` process stops the demo and
// everything it started. npm forwards SIGINT and SIGTERM to its child: `npm run demo` execs node
// (no shell in between that would keep them); under npx a `sh -c` sits in between, dies of SIGTERM
// without passing it on (the demo sees its parent gone: it polls its parent pid) and holds SIGINT
// until its child exits (the demo sees the shell wake up to take it). Each case starts the real demo (a
// PostgreSQL primary and replicas, the app, the dashboard), signals the npm/npx process, and asserts
// that the npm process, the demo's node process and every database server are gone.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { engineSkip } from '../harness/clusters.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const skip = await engineSkip('postgres');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pids of `pid`'s descendants, from ps. */
function descendants(pid: number): number[] {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' }).trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [child, parent] of rows) {
      if (parent !== p || child === undefined) continue;
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

/** Whether something accepts TCP connections on `port` (bounded: 2 s). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (v: boolean): void => {
      socket.destroy();
      resolve(v);
    };
    socket.setTimeout(2000, () => done(true));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function until(check: () => boolean, timeoutMillis: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMillis;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

// `to`: the npm/npx process alone (`kill PID`), or its process group (`kill -- -PGID`: Ctrl-C in a
// terminal). `kill -INT <npx pid>` alone: npx runs us under `sh -c`, npm forwards SIGINT to that
// shell, and dash holds it until its child exits; the demo sees the shell wake up to take it
// (src/cli/parent-watch.ts).
const CASES = [
  ['npm', ['run', 'demo', '--'], 'SIGINT', 'process'],
  ['npm', ['run', 'demo', '--'], 'SIGTERM', 'process'],
  ['npx', ['--no-install', 'dbrouter', 'demo'], 'SIGTERM', 'process'],
  ['npx', ['--no-install', 'dbrouter', 'demo'], 'SIGINT', 'process'],
  ['npx', ['--no-install', 'dbrouter', 'demo'], 'SIGINT', 'group'],
] as const;

for (const [npm, args, signal, to] of CASES) {
  test(`${npm} ${args.join(' ')}: ${signal} to the ${npm} ${to} stops the demo and every server it started`, { skip, timeout: 120_000 }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dbrouter-demo-signal-'));
    const clusterDir = path.join(dir, 'cluster');
    const child = spawn(npm, [...args, '--port', '0', '--no-traffic', '--dir', clusterDir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so that a group signal reaches npm and its children but not this test.
      detached: to === 'group',
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let tree: number[] = [];
    let servers: number[] = [];
    try {
      assert.ok(await until(() => /ready in/.test(output) || child.exitCode !== null, 90_000), `the demo did not start:\n${output}`);
      assert.match(output, /ready in/, output);
      tree = descendants(child.pid!);
      const state = JSON.parse(readFileSync(path.join(clusterDir, 'state.json'), 'utf8')) as { nodes: { pid: number | null; port: number }[] };
      servers = state.nodes.map((n) => n.pid).filter((p): p is number => p !== null);
      const ports = state.nodes.map((n) => n.port);
      assert.ok(servers.length >= 2 && servers.every(alive), `servers: ${servers.join(', ')}`);
      assert.ok(tree.length > 0);
      for (const port of ports) assert.ok(await listening(port), `nothing listens on the server port ${port}`);

      if (to === 'group') process.kill(-child.pid!, signal);
      else child.kill(signal);
      const gone = await until(() => child.exitCode !== null || child.signalCode !== null, 30_000);
      const allGone = await until(() => [...tree, ...servers].every((p) => !alive(p)), 30_000);
      assert.ok(gone, `${npm} still running 30 s after ${signal}:\n${output}`);
      assert.ok(allGone, `still running after ${signal}: ${[...tree, ...servers].filter(alive).join(', ')}\n${output}`);
      for (const port of ports) assert.equal(await listening(port), false, `a server still listens on port ${port}`);
      for (const url of output.match(/http:\/\/[^\s]+/g) ?? []) assert.equal(await listening(Number(new URL(url).port)), false, `${url} still answers`);
      assert.match(output, /stopped in \d+ ms: cluster, app and dashboard removed/, output);
      if (npm === 'npx' && signal === 'SIGINT' && to === 'process') assert.match(output, /was interrupted \(SIGINT\); stopping/, 'the demo saw the shell take the SIGINT');
    } finally {
      for (const p of [...tree, ...servers]) if (alive(p)) process.kill(p, 'SIGKILL');
      if (child.exitCode === null) child.kill('SIGKILL');
      if (to === 'group') {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // the group is gone already
        }
      }
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
