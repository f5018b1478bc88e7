// dbrouter status without a running cluster: the configuration file (missing, not parsing, wrong
// shape, environment overrides) and unreachable nodes (reported down, exit 1, never a crash).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../src/cli/config-file.js';
import { checkCluster } from '../../src/cli/status.js';

const dir = mkdtempSync(path.join(tmpdir(), 'dbrouter-status-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs `dbrouter <argv>` from source in a child process (its stdout is its own, not the test runner's). */
function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(root, 'test/harness/run-cli.ts'), ...argv], { cwd: root, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      if (code === -1) reject(err ?? new Error('no exit code'));
      else resolve({ code, stdout, stderr });
    });
  });
}

/** The message `loadConfigFile` (then `createCluster`, as status does) rejects with. */
async function configError(name: string, text: string): Promise<string> {
  const file = write(name, text);
  try {
    await checkCluster((await loadConfigFile({ file, cwd: dir, env: {} })).config, { maxLagMillis: 1000, timeoutMillis: 100, file });
  } catch (e) {
    assert.equal((e as { code?: string }).code, 'CONFIG_INVALID', name);
    return (e as Error).message;
  }
  assert.fail(`${name} was accepted`);
}

describe('dbrouter status: the configuration file', () => {
  test('a missing --config file is a clear error (exit 2)', async () => {
    const r = await run(['status', '--config', path.join(dir, 'nope.json')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Config file .*nope\.json does not exist: check --config\. \[CONFIG_INVALID\]/);
  });

  test('no file and no environment names every file looked for and the variable', async () => {
    const empty = mkdtempSync(path.join(dir, 'empty-'));
    await assert.rejects(loadConfigFile({ cwd: empty, env: {} }), {
      code: 'CONFIG_INVALID',
      message: /none of dbrouter\.config\.js, .*dbrouter\.config\.json is in .*DBROUTER_DATABASES_DEFAULT_URL/,
    });
  });

  test('JSON that does not parse says so', async () => {
    const r = await run(['status', '--config', write('bad.json', '{ "databases": ')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.json is not valid JSON/);
  });

  test('a JS file that does not parse says it could not be loaded', async () => {
    assert.match(await configError('syntax.mjs', 'export default { databases: {'), /syntax\.mjs could not be loaded: .+\. Fix the file/);
  });

  test('the wrong shape names what is wrong', async () => {
    const cases: [string, string, RegExp][] = [
      ['number.mjs', 'export default 42', /number\.mjs exports a number; it must be an object such as \{ databases/],
      ['fn.mjs', 'export default () => ({})', /fn\.mjs exports a function; export the configuration object itself/],
      ['nodb.json', '{ "routers": [] }', /nodb\.json has no "databases"/],
      ['list.json', '{ "databases": ["postgres://a@b/c"] }', /"databases" is an array/],
      ['emptydb.json', '{ "databases": {} }', /"databases" is empty/],
      ['key.json', '{ "databases": { "default": { "hostname": "db1" } } }', /key\.json: Unknown key "hostname" in databases\.default; write host instead/],
      ['nothing.mjs', 'export const other = 1', /nothing\.mjs exports nothing dbrouter can use/],
    ];
    for (const [name, text, message] of cases) assert.match(await configError(name, text), message, name);
  });

  test('CommonJS, `export const config` and TypeScript (through tsx) are read', async () => {
    const cjs = await loadConfigFile({ file: write('c.cjs', "module.exports = { databases: { default: 'postgres://a@h1/db' } }"), cwd: dir, env: {} });
    assert.deepEqual(cjs.config.databases, { default: 'postgres://a@h1/db' });
    const named = await loadConfigFile({ file: write('n.mjs', "export const config = { databases: { default: 'postgres://a@h2/db' } }"), cwd: dir, env: {} });
    assert.deepEqual(named.config.databases, { default: 'postgres://a@h2/db' });
    const ts = await loadConfigFile({ file: write('t.ts', "const port: number = 5432;\nexport default { databases: { default: `postgres://a@h3:${port}/db` } };"), cwd: dir, env: {} });
    assert.deepEqual(ts.config.databases, { default: 'postgres://a@h3:5432/db' });
  });

  test('DBROUTER_DATABASES_<ALIAS>_URL replaces an alias\'s URL, keeps its role, adds new aliases; alone it is a configuration', async () => {
    const file = write('env.json', JSON.stringify({ databases: { default: 'postgres://a@old/db', replica_1: { host: 'old', port: 1, role: 'replica', weight: 2 } } }));
    const env = { DBROUTER_DATABASES_DEFAULT_URL: 'postgres://a@new/db', DBROUTER_DATABASES_REPLICA_1_URL: 'postgres://a@r1/db', DBROUTER_DATABASES_EXTRA_URL: 'postgres://a@x/db' };
    const loaded = await loadConfigFile({ file, cwd: dir, env });
    assert.deepEqual(loaded.config.databases, {
      default: 'postgres://a@new/db',
      replica_1: { role: 'replica', weight: 2, url: 'postgres://a@r1/db' },
      extra: 'postgres://a@x/db',
    });
    const alone = await loadConfigFile({ cwd: mkdtempSync(path.join(dir, 'envonly-')), env: { DBROUTER_DATABASES_DEFAULT_URL: 'postgres://a@only/db' } });
    assert.equal(alone.file, undefined);
    assert.deepEqual(alone.config.databases, { default: 'postgres://a@only/db' });
  });
});

describe('dbrouter status: unreachable nodes', () => {
  let silent: Server;
  let silentPort = 0;
  const sockets = new Set<Socket>();
  before(async () => {
    // Accepts TCP and never answers: the check must time out, not hang.
    silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });
  after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });

  test('refused and silent nodes are down, the cluster degraded (exit 1), no password printed', async () => {
    const file = write('down.json', JSON.stringify({
      databases: {
        default: 'postgres://app:s3cret-pw@127.0.0.1:1/app',
        replica1: { url: `postgres://app:s3cret-pw@127.0.0.1:${silentPort}/app`, role: 'replica' },
      },
    }));
    const t0 = performance.now();
    const table = await run(['status', '--config', file, '--timeout', '300ms']);
    assert.ok(performance.now() - t0 < 5000, 'bounded by --timeout');
    assert.equal(table.code, 1);
    assert.match(table.stdout, /^default\s+\?\s+down\s/m);
    assert.match(table.stdout, /^replica1\s+replica\?\s+down\s/m);
    assert.match(table.stdout, /ECONNREFUSED/);
    assert.match(table.stdout, /degraded: .*no primary/);
    assert.doesNotMatch(table.stdout + table.stderr, /s3cret-pw/);
    assert.ok(!table.stdout.includes('\u001b['), 'no colour when not a terminal');

    const json = await run(['status', '--config', file, '--timeout', '300ms', '--json']);
    assert.equal(json.code, 1);
    const report = JSON.parse(json.stdout) as { healthy: boolean; primary: null; nodes: { alias: string; state: string; url: string }[]; degraded: string[] };
    assert.equal(report.healthy, false);
    assert.equal(report.primary, null);
    assert.deepEqual(report.nodes.map((n) => [n.alias, n.state]), [['default', 'down'], ['replica1', 'down']]);
    assert.equal(report.nodes[0]!.url, 'postgres://app:***@127.0.0.1:1/app');
    assert.doesNotMatch(json.stdout, /s3cret-pw/);
  });

  test('a bad --max-lag is a usage error', async () => {
    const r = await run(['status', '--config', write('ok.json', '{"databases":{"default":"postgres://a@127.0.0.1:1/db"}}'), '--max-lag', 'soon']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot read delay 'soon'/);
  });
});
