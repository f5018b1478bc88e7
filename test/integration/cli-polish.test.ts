// Issue 12, CLI: --version, durations with units, `cluster start` on a running node, `cluster env`,
// `explain` with no SQL, and hints that say how this user runs dbrouter (`npx dbrouter …`).
// Runs the CLI from source in a child process (test/harness/run-cli.ts) against the shared cluster.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { commandName, withCommandName } from '../../src/cli/invocation.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RUN_CLI = path.join(ROOT, 'test/harness/run-cli.ts');

function cli(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', RUN_CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    input: input ?? '',
    env: { ...process.env, FORCE_COLOR: '0', npm_command: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--version and -V print the package version', () => {
  const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  for (const flag of ['--version', '-V']) {
    const r = cli([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), version);
  }
});

test('explain with no SQL prints its usage and exits 2', () => {
  for (const args of [['explain'], ['explain', '-']]) {
    const r = cli(args, '');
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /no SQL given/);
    assert.match(r.stderr, /Usage: dbrouter explain \[options\] \[sql\.\.\.\]/);
    assert.equal(r.stdout, '');
  }
  assert.match(cli(['explain'], 'SELECT 1').stdout, /target +replica/);
});

test('hints name the command as the user runs it: npx dbrouter unless dbrouter on PATH is this program', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dbrouter-invocation-'));
  try {
    const program = path.join(dir, 'lib', 'dbrouter.js');
    const binDir = path.join(dir, 'bin');
    spawnSync('mkdir', ['-p', path.dirname(program), binDir]);
    writeFileSync(program, '');
    chmodSync(program, 0o755);
    symlinkSync(program, path.join(binDir, 'dbrouter'));
    assert.equal(commandName(program, { PATH: `/usr/bin${path.delimiter}${binDir}` }), 'dbrouter', 'global install: on PATH');
    assert.equal(commandName(program, { PATH: '/usr/bin' }), 'npx dbrouter', 'local install: not on PATH');
    assert.equal(commandName(program, { PATH: binDir, npm_command: 'exec' }), 'npx dbrouter', 'run through npx');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(withCommandName('stop it with: dbrouter cluster down --dir x', 'npx dbrouter'), 'stop it with: npx dbrouter cluster down --dir x');
  assert.equal(withCommandName('start one with `dbrouter cluster up`', 'npx dbrouter'), 'start one with `npx dbrouter cluster up`');
  assert.equal(withCommandName('the dbrouter demo is starting', 'npx dbrouter'), 'the dbrouter demo is starting');
  // From this checkout, dbrouter is not on PATH: the CLI's own error says npx.
  const r = cli(['cluster', 'status', '--dir', path.join(tmpdir(), `dbrouter-none-${process.pid}`)]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /`npx dbrouter cluster up --dir /);
});

describe('on a running local cluster', { skip: await engineSkip('postgres') }, () => {
  let local: LocalCluster;

  test('cluster env prints DBROUTER_DATABASES_<ALIAS>_URL for every node; --json as up --json', async () => {
    local = await sharedCluster('postgres');
    const r = cli(['cluster', 'env', '--dir', local.dir]);
    assert.equal(r.code, 0, r.stderr);
    const expected = Object.entries(local.databases).map(([alias, d]) => `DBROUTER_DATABASES_${alias.toUpperCase()}_URL=${d.url}`);
    assert.deepEqual(r.stdout.trim().split('\n'), expected);
    const json = JSON.parse(cli(['cluster', 'env', '--json', '--dir', local.dir]).stdout) as { dir: string; databases: Record<string, { url: string }> };
    assert.equal(json.dir, local.dir);
    assert.deepEqual(Object.keys(json.databases), Object.keys(local.databases));
  });

  test('cluster up while one runs refuses and points to cluster env', () => {
    const r = cli(['cluster', 'up', '--json', '--dir', local.dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /`npx dbrouter cluster env --dir /);
  });

  test('cluster start on a running node says it is already running and changes nothing', async () => {
    const before = (await local.status()).find((n) => n.alias === 'replica1')!;
    assert.ok(before.up);
    const r = cli(['cluster', 'start', 'replica1', '--dir', local.dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `replica1 is already running (pid ${before.pid}, port ${before.port})`);
    assert.equal((await local.status()).find((n) => n.alias === 'replica1')!.pid, before.pid);
  });

  test('lag --delay needs a unit: a bare 2 is refused, 2s and 500ms are read as such', async () => {
    const bare = cli(['cluster', 'lag', 'replica1', '--delay', '2', '--dir', local.dir]);
    assert.equal(bare.code, 1);
    assert.match(bare.stderr, /'2' has no unit: write 2s for seconds or 2ms for milliseconds \[USAGE\]/);
    assert.equal((await local.status()).find((n) => n.alias === 'replica1')!.delayMillis, 0, 'a refused delay was applied');
    try {
      const ok = cli(['cluster', 'lag', 'replica1', '--delay', '500ms', '--dir', local.dir]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /replica1 applies changes 500 ms late/);
      assert.equal((await local.status()).find((n) => n.alias === 'replica1')!.delayMillis, 500);
    } finally {
      cli(['cluster', 'lag', 'replica1', '--delay', '0', '--dir', local.dir]);
    }
    assert.equal((await local.status()).find((n) => n.alias === 'replica1')!.delayMillis, 0);
  });
});
