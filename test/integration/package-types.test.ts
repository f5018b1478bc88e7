// Issue 12: a pg-only and a mysql2-only consumer project type-check against the built package
// with `skipLibCheck: false`. Each project's node_modules holds dbrouter (built here) and only its
// own driver's types: the root entry must not pull in the other driver's, and `dbrouter/pg`'s pool
// must type-check where a `pg.Pool` is expected, without a cast.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../..');
const modules = path.join(repo, 'node_modules');
const tsc = path.join(modules, 'typescript/bin/tsc');
const dir = mkdtempSync(path.join(tmpdir(), 'dbrouter-consumer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TSCONFIG = { compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', skipLibCheck: false, noEmit: true, types: ['node'] }, files: ['app.ts'] };

const PROJECTS = {
  pg: {
    deps: ['@types/pg', 'pg-types', 'pg-protocol', 'pg'],
    app: `import type { Pool } from 'pg';
import { createCluster } from 'dbrouter';
import { createPgPool, pgDriver } from 'dbrouter/pg';
const cluster = createCluster({ databases: { default: 'postgres://app@primary/app', replica1: 'postgres://app@replica/app' } });
const pool: Pool = createPgPool(cluster);
const client = await pool.connect();
client.release();
const driver = pgDriver(cluster);
void driver;
`,
  },
  // dbrouter/kysely's types over the consumer's own kysely; dbrouter/drizzle needs nothing of Drizzle's.
  kysely: {
    deps: ['@types/pg', 'pg-types', 'pg-protocol', 'pg', 'kysely'],
    app: `import { Kysely, PostgresDialect } from 'kysely';
import { createCluster } from 'dbrouter';
import { createPgPool } from 'dbrouter/pg';
import { readOnlyKysely } from 'dbrouter/kysely';
import { readOnlyDrizzle } from 'dbrouter/drizzle';
interface DB { orders: { id: number } }
const cluster = createCluster({ databases: { default: 'postgres://app@primary/app', replica1: 'postgres://app@replica/app' } });
const db = readOnlyKysely(new Kysely<DB>({ dialect: new PostgresDialect({ pool: createPgPool(cluster, { readOnly: true }) }) }));
void db.selectFrom('orders').select('id');
// @ts-expect-error no write builders on a read-only Kysely
void db.deleteFrom('orders');
const fake = { select: () => 1, insert: () => 2 };
void readOnlyDrizzle(fake).select();
// @ts-expect-error no insert on a read-only Drizzle
void readOnlyDrizzle(fake).insert();
`,
  },
  mysql: {
    deps: ['mysql2'],
    app: `import { createCluster } from 'dbrouter';
import { createMysqlPool } from 'dbrouter/mysql';
const cluster = createCluster({ databases: { default: 'mysql://app@primary/app', replica1: 'mysql://app@replica/app' } });
const pool = createMysqlPool(cluster);
void pool;
`,
  },
};

test('pg-only, mysql2-only and Kysely projects type-check with skipLibCheck: false', { timeout: 180_000 }, async () => {
  const pkg = path.join(dir, 'pkg');
  await run(process.execPath, [tsc, '-p', path.join(repo, 'tsconfig.build.json'), '--outDir', path.join(pkg, 'dist')], { cwd: repo });
  cpSync(path.join(repo, 'package.json'), path.join(pkg, 'package.json'));
  for (const [name, p] of Object.entries(PROJECTS)) {
    const root = path.join(dir, name);
    const nm = path.join(root, 'node_modules');
    mkdirSync(path.join(nm, '@types'), { recursive: true });
    // A copy, not a link: the package must resolve its peers from the consumer's node_modules.
    cpSync(pkg, path.join(nm, 'dbrouter'), { recursive: true });
    for (const dep of ['@types/node', 'undici-types', ...p.deps]) symlinkSync(path.join(modules, dep), path.join(nm, dep));
    writeFileSync(path.join(root, 'package.json'), '{ "type": "module" }');
    writeFileSync(path.join(root, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    writeFileSync(path.join(root, 'app.ts'), p.app);
    const result = await run(process.execPath, [tsc, '-p', root], { cwd: root }).then(() => '', (e: { stdout?: string; message?: string }) => e.stdout ?? e.message ?? 'tsc failed');
    assert.equal(result, '', `${name}-only project:\n${result}`);
  }
});
