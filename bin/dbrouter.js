#!/usr/bin/env node
// The dbrouter command. An installed package runs the compiled CLI (dist/, built by `npm pack`);
// a checkout of the repository that has not been built runs the TypeScript source through tsx
// (a devDependency), so `npm ci && npm run demo` needs no build step and no install script.
import { existsSync } from 'node:fs';

let main;
try {
  ({ main } = await import('../dist/cli/main.js'));
} catch (e) {
  const source = new URL('../src/cli/main.ts', import.meta.url);
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes('dist/cli/main.js') || !existsSync(source)) throw e;
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(source.href));
}

process.exitCode = await main(process.argv.slice(2));
