#!/usr/bin/env node
// The test command: `npm test`. Runs unit tests, then integration tests, then browser tests (the
// demo in headless Chromium) with Node's test runner.
// Integration test files share one running cluster per engine, started here once through the
// public API (see test/harness/clusters.ts) and torn down at the end — also on failure, Ctrl-C
// or SIGTERM. `--unit` runs the unit tests only (no clusters).
import { spawn } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { register } from 'tsx/esm/api';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const only = process.argv.includes('--unit') ? ['unit'] : ['unit', 'integration', 'browser'];
const files = [];
for (const tier of only) {
  const dir = path.join(root, 'test', tier);
  if (!existsSync(dir)) continue;
  for (const f of readdirSync(dir).sort()) if (f.endsWith('.test.ts')) files.push(path.join('test', tier, f));
}

let clusters = { env: {}, down: async () => {}, timings: [] };
if (files.some((f) => f.startsWith(path.join('test', 'integration')))) {
  register();
  const { startSharedClusters } = await import('../test/harness/clusters.ts');
  clusters = await startSharedClusters();
  for (const line of clusters.timings) process.stderr.write(`# ${line}\n`);
}

let interrupted = null;
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, ...clusters.env },
});
// Ctrl-C reaches the child through the terminal; SIGTERM is sent to us only: pass it on. Either way
// wait for the child, then tear the clusters down.
const onSignal = (signal) => {
  interrupted = signal;
  if (signal === 'SIGTERM') child.kill('SIGTERM');
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
const status = await new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
const t0 = performance.now();
await clusters.down();
if (clusters.timings.length) process.stderr.write(`# shared clusters down in ${Math.round(performance.now() - t0)} ms\n`);
process.exit(interrupted ? 130 : status);
