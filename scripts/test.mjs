#!/usr/bin/env node
// The test command: `npm test`. Runs unit tests, then integration tests with Node's test runner.
// Integration test files share one running cluster per engine, started here once through the
// public API (see test/harness) and torn down at the end.
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const only = process.argv.includes('--unit') ? ['unit'] : ['unit', 'integration'];
const files = [];
for (const tier of only) {
  const dir = path.join(root, 'test', tier);
  if (!existsSync(dir)) continue;
  for (const f of readdirSync(dir).sort()) if (f.endsWith('.test.ts')) files.push(path.join('test', tier, f));
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
