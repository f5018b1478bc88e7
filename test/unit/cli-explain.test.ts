import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { main } from '../../src/cli/main.js';

/** Runs `dbrouter <argv>` in-process and captures what it writes. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

describe('dbrouter explain', () => {
  test('--json prints one object with target and reason', async () => {
    const r = await run(['explain', '--json', 'SELECT * FROM users WHERE id = $1']);
    assert.equal(r.code, 0);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const o = JSON.parse(lines[0]!);
    assert.equal(o.target, 'replica');
    assert.equal(o.reason, 'select');
    assert.equal(o.verb, 'SELECT');
    assert.equal(o.effect, 'none');
    assert.deepEqual(o.tables, ['users']);
    assert.equal(o.dialect, 'postgres');
  });

  test('--json for a write CTE', async () => {
    const r = await run(['explain', '--json', 'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d']);
    const o = JSON.parse(r.stdout);
    assert.deepEqual([o.target, o.reason], ['primary', 'write-cte']);
  });

  test('--dialect mysql reads MySQL comments and functions', async () => {
    const r = await run(['explain', '--dialect', 'mysql', '--json', 'SELECT 1 /*! FOR UPDATE */']);
    assert.deepEqual(JSON.parse(r.stdout).reason, 'row-lock');
    const m = await run(['explain', '--dialect', 'mariadb', '--json', 'SELECT LAST_INSERT_ID()']);
    assert.deepEqual(JSON.parse(m.stdout).target, 'primary');
  });

  test('human output names the target, reason, verb, effect and tables', async () => {
    const r = await run(['explain', 'BEGIN READ ONLY']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^target\s+replica$/m);
    assert.match(r.stdout, /^reason\s+transaction-read-only$/m);
    assert.match(r.stdout, /^verb\s+BEGIN$/m);
    assert.match(r.stdout, /^effect\s+begin \(read only\)$/m);
  });

  test('words after explain are joined into one statement', async () => {
    const r = await run(['explain', '--json', 'SELECT', '1;', 'DELETE', 'FROM', 't']);
    assert.equal(JSON.parse(r.stdout).reason, 'multi-statement');
  });

  test('--write-functions adds functions that write', async () => {
    const r = await run(['explain', '--json', '--write-functions', 'audit_log, public.bump', 'SELECT public.bump(1)']);
    assert.equal(JSON.parse(r.stdout).reason, 'write-function');
  });

  test('a bad --dialect is a usage error that names the choices', async () => {
    const r = await run(['explain', '--dialect', 'oracle', 'SELECT 1']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /unknown dialect 'oracle'.*postgres.*mysql/);
    assert.match(r.stderr, /\[USAGE\]/);
  });

  test('unparseable SQL goes to the primary as unknown', async () => {
    const r = await run(['explain', '--json', "SELECT 'unterminated"]);
    assert.deepEqual(JSON.parse(r.stdout).reason, 'unknown');
    assert.deepEqual(JSON.parse(r.stdout).target, 'primary');
  });

  test('`-` or no SQL reads the statement from standard input', () => {
    const script = "const { main } = await import('./src/cli/main.ts'); process.exitCode = await main(process.argv.slice(1));";
    for (const args of [['explain', '--json', '-'], ['explain', '--json']]) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, ...args], {
        input: 'BEGIN READ ONLY\n',
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).reason, 'transaction-read-only');
    }
  });

  test('a statement that starts with a comment follows `--`', async () => {
    const r = await run(['explain', '--json', '--', '-- why\nSELECT 1']);
    assert.equal(JSON.parse(r.stdout).target, 'replica');
  });
});
