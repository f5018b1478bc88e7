// Issue 9 item 9: a missing driver is named at once. `dbrouter cluster up` without `pg` waited
// 30 s and then blamed the server. Each case runs a real process in which the drivers cannot be
// resolved (scripts/hide-drivers.cjs makes `require('pg')` fail as for an absent package).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HIDE = path.join(ROOT, 'scripts/hide-drivers.cjs');

function run(args: readonly string[], hide: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--require', HIDE, '--import', 'tsx', ...args], {
      cwd: ROOT,
      env: { ...process.env, DBROUTER_HIDE_DRIVERS: hide, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

for (const [engine, pkg] of [['postgres', 'pg'], ['mariadb', 'mysql2']] as const) {
  test(`cluster up --engine ${engine} without ${pkg}: DRIVER_MISSING naming the package, before any server starts`, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dbrouter-nodriver-'));
    try {
      const clusterDir = path.join(dir, 'cluster');
      const r = await run(['test/harness/run-cli.ts', 'cluster', 'up', '--engine', engine, '--dir', clusterDir], pkg);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`The "${pkg}" package is not installed.*npm install ${pkg} \\[DRIVER_MISSING\\]`));
      assert.doesNotMatch(r.stderr, /did not accept connections/);
      // Refused before anything was created: no state file, no data directory, no server.
      assert.equal(existsSync(clusterDir), false, 'the cluster directory was created');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('the API without drivers: pools, ready() and watchCluster() fail at once with DRIVER_MISSING', async () => {
  const r = await run(['test/harness/driver-missing-script.ts'], 'pg,mysql2');
  assert.equal(r.code, 0, r.stderr);
  const results = JSON.parse(r.stdout) as Record<string, string>;
  for (const [what, pkg] of [['createPgPool', 'pg'], ['createMysqlPool', 'mysql2'], ['ready', 'pg'], ['watchCluster', 'pg']] as const) {
    const m = /^(\S+) in (\d+) ms: (.*)$/.exec(results[what] ?? '');
    assert.ok(m, `${what}: ${results[what]}`);
    assert.equal(m[1], 'DRIVER_MISSING', `${what}: ${results[what]}`);
    assert.match(m[3]!, new RegExp(`npm install ${pkg}$`), what);
    // At once: no connect attempt, no check timeout (5000 ms) waited out.
    assert.ok(Number(m[2]) < 1000, `${what} took ${m[2]} ms`);
  }
});
