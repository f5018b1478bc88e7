// Every TypeScript example in the README and the guides (```ts blocks) is compiled against the
// package as users get it (the built `dist/`, imported as `dbrouter/...`), with the free names an
// example leaves to its reader (`pool`, `app`, …) declared once in a shared prelude. Examples fenced
// as ```ts runnable are complete programs: they also run, against the shared PostgreSQL cluster
// (DATABASE_URL, REPLICA_URL, REPLICA2_URL), and must exit 0.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { before, describe, test } from 'node:test';
import { engineSkip, sharedCluster } from '../harness/clusters.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..', '..');
const out = path.join(root, 'test-artifacts', 'doc-examples');

interface Example { file: string; line: number; code: string; runnable: boolean }

function examples(): Example[] {
  const files = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
  const found: Example[] = [];
  for (const file of files) {
    const lines = readFileSync(path.join(root, file), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const m = /^```ts( runnable)?\s*$/.exec(lines[i]!);
      if (!m) continue;
      const start = i + 1;
      let end = start;
      while (end < lines.length && !lines[end]!.startsWith('```')) end++;
      found.push({ file, line: start, code: lines.slice(start, end).join('\n'), runnable: m[1] !== undefined });
      i = end;
    }
  }
  return found;
}

// What examples leave to the reader. Typed loosely where the example is about something else
// (an HTTP app, a queue), exactly where it is about dbrouter.
const PRELUDE = `
import type { Cluster, ClusterHealth } from 'dbrouter';
import type { RoutedPgPool } from 'dbrouter/pg';
import type { RoutedMysqlPool } from 'dbrouter/mysql';
declare global {
  const cluster: Cluster;
  const pool: RoutedPgPool;
  const mysqlPool: RoutedMysqlPool;
  const health: ClusterHealth;
  const databases: Record<string, string>;
  const app: any; const router: any; const queue: any; const worker: any; const log: any; const db: any;
  const provider: any; const req: any; const res: any;
  const id: number; const amount: number; const userId: number; const order: any;
  const PRIMARY_URL: string; const REPLICA_URL: string; const REPLICA1_URL: string; const REPLICA2_URL: string; const LOGS_URL: string;
  function reportQuery(): Promise<unknown>; function doWork(): Promise<void>; function dashboardQueries(): Promise<unknown>;
  function createNote(body: unknown): Promise<number>; function readNote(id: unknown): Promise<unknown>; function stats(): Promise<unknown>;
  function ship(id: unknown): Promise<void>; function isAdmin(req: unknown): boolean; function renderReport(): Promise<unknown>;
  type DB = any;
}
export {};
`;

const postgresSkip = await engineSkip('postgres');

describe('documentation examples', () => {
  const all = examples();

  before(async () => {
    await run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root });
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
  });

  test(`every \`\`\`ts example compiles (${all.length} examples)`, { timeout: 180_000 }, async () => {
    assert.ok(all.length >= 15, 'the guides have examples');
    writeFileSync(path.join(out, 'prelude.d.ts'), PRELUDE);
    const names: string[] = [];
    for (const [i, e] of all.entries()) {
      const name = `${String(i).padStart(3, '0')}-${e.file.replace(/[/.]/g, '_')}-L${e.line}.ts`;
      names.push(name);
      // A module of its own (top-level await, no clash with the prelude's globals).
      writeFileSync(path.join(out, name), `${e.code}\nexport {};\n`);
    }
    writeFileSync(path.join(out, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', lib: ['ES2023', 'DOM'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true,
        noEmit: true, skipLibCheck: true, esModuleInterop: true, types: ['node'], experimentalDecorators: false,
        noUnusedLocals: false,
      },
      files: ['prelude.d.ts', ...names],
    }));
    try {
      await run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(out, 'tsconfig.json')], { cwd: root });
    } catch (e) {
      const stdout = (e as { stdout?: string }).stdout ?? '';
      // Name each failing example by its guide and line.
      const byFile = stdout.replace(/(\d{3})-([\w-]+?)_md-L(\d+)\.ts\((\d+),(\d+)\)/g, (_m, _n, f: string, l: string, row: string) => `${f.replace(/_/g, '/')}.md:${Number(l) + Number(row)}`);
      assert.fail(`examples that do not compile:\n${byFile}`);
    }
  });

  const runnable = all.filter((e) => e.runnable);
  test(`every \`\`\`ts runnable example runs against a real cluster (${runnable.length} examples)`, { skip: postgresSkip, timeout: 120_000 }, async () => {
    assert.ok(runnable.length >= 1, 'at least the quick start runs');
    const local = await sharedCluster('postgres');
    const env = {
      ...process.env,
      DATABASE_URL: local.databases.default!.url,
      REPLICA_URL: local.databases.replica1!.url,
      REPLICA2_URL: local.databases.replica2!.url,
      DBROUTER_SECRET: 'doc-example-secret-of-16-bytes-or-more',
    };
    for (const e of runnable) {
      const file = path.join(out, `run-${e.file.replace(/[/.]/g, '_')}-L${e.line}.mts`);
      writeFileSync(file, e.code);
      try {
        await run(process.execPath, ['--import', 'tsx', file], { cwd: root, env, timeout: 60_000 });
      } catch (err) {
        const x = err as { stdout?: string; stderr?: string; message: string };
        assert.fail(`${e.file}:${e.line} failed: ${x.message}\n${x.stdout ?? ''}${x.stderr ?? ''}`);
      }
    }
  });
});
