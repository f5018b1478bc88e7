// Issue 12: the read-only Kysely and Drizzle handles (dbrouter/kysely, dbrouter/drizzle) are typed
// so that their write builders do not compile. test/types/read-only-handles.ts holds reads that
// must compile and writes marked `@ts-expect-error` (tsc fails on a directive whose line compiles).
// The control: the same file with the read-only wrappers taken off must leave every one of those
// directives unused (TS2578) and nothing else, so each expected error comes from the read-only
// types, not from a mistake on that line.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../..');
const tsc = path.join(repo, 'node_modules/typescript/bin/tsc');
const fixture = path.join(repo, 'test/types/read-only-handles.ts');
// Under node_modules, so that 'kysely' and 'drizzle-orm' resolve and the repo's own tsconfig never includes it.
const dir = path.join(repo, 'node_modules/.cache', `dbrouter-read-only-types-${process.pid}`);
after(() => rmSync(dir, { recursive: true, force: true }));

async function compile(file: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, `tsconfig-${path.basename(file, '.ts')}.json`);
  writeFileSync(config, JSON.stringify({ extends: path.join(repo, 'tsconfig.json'), compilerOptions: { noEmit: true, rootDir: '/' }, include: [], files: [file] }));
  return run(process.execPath, [tsc, '-p', config], { cwd: repo, maxBuffer: 16 * 1024 * 1024 }).then(() => '', (e: { stdout?: string; message?: string }) => e.stdout || (e.message ?? 'tsc failed'));
}

test('reads compile on the read-only handles; every write is a type error', { timeout: 240_000 }, async () => {
  assert.equal(await compile(fixture), '');
});

test('control: without the read-only types, each expected error disappears (and nothing else fails)', { timeout: 240_000 }, async () => {
  const text = readFileSync(fixture, 'utf8');
  const directives = text.split('\n').filter((l) => /^\s*\/\/ @ts-expect-error/.test(l)).length;
  assert.ok(directives >= 20, `the fixture has its directives (${directives})`);
  const writable = text
    .replaceAll("'../../src/", `'${path.join(repo, 'src')}/`)
    .replaceAll('ReadonlyKysely<DB>', 'Kysely<DB>')
    .replace(/readOnly(Kysely|Drizzle)\(((?:[^()]|\((?:[^()]|\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\))*\))*)\)/g, '$2');
  const control = path.join(dir, 'control.ts');
  mkdirSync(dir, { recursive: true });
  writeFileSync(control, writable);
  const out = await compile(control);
  const errors = out.split('\n').filter((l) => /error TS\d+/.test(l));
  const unused = errors.filter((l) => /error TS2578/.test(l));
  assert.deepEqual(errors.filter((l) => !/error TS2578/.test(l)), [], 'only unused-directive errors');
  assert.equal(unused.length, directives, 'every @ts-expect-error is there because of the read-only types');
});
