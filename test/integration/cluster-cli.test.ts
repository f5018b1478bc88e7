// The `dbrouter cluster` CLI's success paths on an own cluster per engine (through
// test/harness/run-cli.ts): lag resume, --delay 0, kill, start, promote — each asserted by asking
// the servers themselves. And the built bin (what `npx dbrouter` runs): up, psql, down.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { isAlive } from '../../src/local/processes.js';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Engine, LocalCluster } from '../../src/local/index.js';
import { engineSkip, ownCluster } from '../harness/clusters.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN_CLI = path.join(ROOT, 'test/harness/run-cli.ts');

function cli(args: string[]): string {
  return execFileSync(process.execPath, ['--import', import.meta.resolve('tsx'), RUN_CLI, 'cluster', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** One statement on one server, over a connection of its own; rows as objects. */
async function run(engine: Engine, url: string, sql: string): Promise<Record<string, unknown>[]> {
  if (engine === 'postgres') {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query(sql)).rows as Record<string, unknown>[];
    } finally {
      await c.end();
    }
  }
  const c = await mysql.createConnection({ uri: url });
  try {
    const [rows] = await c.query(sql);
    return rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

async function has(engine: Engine, url: string, v: string): Promise<boolean> {
  const rows = await run(engine, url, `SELECT count(*) AS n FROM cli_t WHERE v = '${v}'`);
  return Number(rows[0]!.n) === 1;
}

/** Polls until `url` shows the row (true), or `timeoutMillis` passed (false). */
async function shows(engine: Engine, url: string, v: string, timeoutMillis: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    if (await has(engine, url, v)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function refuses(engine: Engine, url: string): Promise<boolean> {
  return run(engine, url, 'SELECT 1').then(
    () => false,
    () => true,
  );
}

function statusOf(dir: string): { alias: string; role: string; up: boolean; paused: boolean; delayMillis: number }[] {
  return (JSON.parse(cli(['status', '--dir', dir, '--json'])) as { nodes: { alias: string; role: string; up: boolean; paused: boolean; delayMillis: number }[] }).nodes;
}

for (const engine of ['postgres', 'mariadb'] as const) {
  describe(`dbrouter cluster CLI on ${engine}: lag, kill, start, promote`, { skip: await engineSkip(engine) }, () => {
    let local: LocalCluster;
    let url: (alias: string) => string;
    let n = 0;
    const marker = () => `cli-${engine}-${++n}`;
    const write = async (v: string, alias = 'default') => {
      await run(engine, url(alias), `INSERT INTO cli_t (v) VALUES ('${v}')`);
    };

    before(async () => {
      local = await ownCluster(engine, { replicas: 2 });
      const urls = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, d.url]));
      url = (alias) => urls[alias]!;
      await run(engine, url('default'), engine === 'postgres' ? 'CREATE TABLE cli_t (id serial PRIMARY KEY, v text)' : 'CREATE TABLE cli_t (id int AUTO_INCREMENT PRIMARY KEY, v varchar(100))');
      await local.waitForAllReplicas();
    });
    after(async () => {
      await local?.down();
    });

    test('lag ALIAS resume: a paused replica replays what it missed', async () => {
      cli(['lag', 'replica1', 'pause', '--dir', local.dir]);
      const v = marker();
      await write(v);
      assert.ok(await shows(engine, url('replica2'), v, 10_000), 'replica2 replays it');
      assert.equal(await has(engine, url('replica1'), v), false, 'replica1 is paused');
      cli(['lag', 'replica1', 'resume', '--dir', local.dir]);
      assert.ok(await shows(engine, url('replica1'), v, 10_000), 'replica1 replays it after resume');
      assert.equal(statusOf(local.dir).find((s) => s.alias === 'replica1')!.paused, false);
    });

    test('lag ALIAS --delay 0: a delayed replica applies at once again', async () => {
      cli(['lag', 'replica2', '--delay', '60s', '--dir', local.dir]);
      assert.equal(statusOf(local.dir).find((s) => s.alias === 'replica2')!.delayMillis, 60_000);
      const v = marker();
      await write(v);
      assert.ok(await shows(engine, url('replica1'), v, 10_000), 'replica1 replays it');
      assert.equal(await shows(engine, url('replica2'), v, 1000), false, 'replica2 holds it back for 60 s');
      cli(['lag', 'replica2', '--delay', '0', '--dir', local.dir]);
      assert.ok(await shows(engine, url('replica2'), v, 15_000), 'replica2 applies it once the delay is gone');
      assert.equal(statusOf(local.dir).find((s) => s.alias === 'replica2')!.delayMillis, 0);
    });

    test('kill ALIAS stops the server; start ALIAS brings it back, replicating', async () => {
      cli(['kill', 'replica2', '--dir', local.dir]);
      assert.equal(await refuses(engine, url('replica2')), true, 'replica2 accepts no connection after kill');
      assert.equal(statusOf(local.dir).find((s) => s.alias === 'replica2')!.up, false);
      const v = marker();
      await write(v);
      cli(['start', 'replica2', '--dir', local.dir]);
      assert.ok(await shows(engine, url('replica2'), v, 15_000), 'replica2 replays a write made while it was down');
      const later = marker();
      await write(later);
      assert.ok(await shows(engine, url('replica2'), later, 10_000), 'and one made after');
    });

    test('promote ALIAS: that replica takes writes and the other replicates from it; the old primary rejoins with start', async () => {
      const earlier = marker();
      await write(earlier);
      assert.ok(await shows(engine, url('replica1'), earlier, 10_000));
      cli(['kill', 'default', '--dir', local.dir]);
      cli(['promote', 'replica1', '--dir', local.dir]);
      assert.deepEqual(
        statusOf(local.dir).map((s) => [s.alias, s.alias === 'default' ? '(down)' : s.role, s.up]),
        [
          ['default', '(down)', false],
          ['replica1', 'primary', true],
          ['replica2', 'replica', true],
        ],
      );
      const v = marker();
      await write(v, 'replica1');
      assert.ok(await has(engine, url('replica1'), v), 'the write ran on replica1');
      assert.ok(await shows(engine, url('replica2'), v, 15_000), 'replica2 replays the new primary');
      await assert.rejects(write(marker(), 'replica2'), 'replica2 is still read-only');
      cli(['start', 'default', '--dir', local.dir]);
      assert.deepEqual(
        statusOf(local.dir).map((s) => [s.alias, s.role, s.up]),
        [
          ['default', 'replica', true],
          ['replica1', 'primary', true],
          ['replica2', 'replica', true],
        ],
      );
      assert.ok(await shows(engine, url('default'), v, 15_000), 'the old primary rejoined as a replica of replica1');
      await assert.rejects(write(marker(), 'default'), 'the old primary is read-only now');
    });

    test('down from the process that started the cluster stops the nodes the CLI restarted since', async () => {
      const pids = (JSON.parse(cli(['status', '--dir', local.dir, '--json'])) as { nodes: { pid: number | null }[] }).nodes
        .map((s) => s.pid).filter((p): p is number => typeof p === 'number');
      assert.equal(pids.length, 3);
      await local.down();
      assert.deepEqual(pids.filter(isAlive), [], 'no server process is left (zombies awaiting a reaper count as gone)');
    });
  });
}

/** The built CLI is older than some source file it is built from. */
function distIsStale(): boolean {
  const built = path.join(ROOT, 'dist/cli/main.js');
  if (!existsSync(built)) return true;
  const builtAt = statSync(built).mtimeMs;
  const newest = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => {
      const p = path.join(dir, e.name);
      return e.isDirectory() ? newest(p) : statSync(p).mtimeMs;
    }));
  return newest(path.join(ROOT, 'src')) > builtAt;
}

function hasPsql(): boolean {
  try {
    execFileSync('psql', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('the built bin (what `npx dbrouter` runs)', { skip: await engineSkip('postgres') }, () => {
  test('node bin/dbrouter.js cluster up --json: psql connects to the printed URLs; cluster down removes it', (t) => {
    // `npm install` builds dist/ (the prepare script); rebuild only when a source file is newer.
    if (distIsStale()) execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
    const dir = path.join(tmpdir(), `dbrouter-test-bin-${process.pid}`);
    const bin = (args: string[]) => execFileSync(process.execPath, [path.join(ROOT, 'bin/dbrouter.js'), 'cluster', ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const printed = JSON.parse(bin(['up', '--engine', 'postgres', '--replicas', '1', '--json', '--dir', dir])) as {
      dir: string;
      databases: Record<string, { url: string; role: string }>;
    };
    try {
      assert.equal(printed.dir, dir);
      assert.deepEqual(Object.keys(printed.databases), ['default', 'replica1']);
      if (!hasPsql()) {
        if (process.env.CI === 'true') assert.fail('psql is missing (install postgresql-client)');
        t.diagnostic('psql missing: the psql part is skipped');
        process.stderr.write('# SKIP psql missing: the built bin was not checked with psql\n');
        return;
      }
      for (const [alias, db] of Object.entries(printed.databases)) {
        const inRecovery = execFileSync('psql', [db.url, '-XAtc', 'select pg_is_in_recovery()'], { encoding: 'utf8' }).trim();
        assert.equal(inRecovery, alias === 'default' ? 'f' : 't', alias);
      }
    } finally {
      bin(['down', '--dir', dir]);
    }
    assert.equal(existsSync(dir), false, 'down removed the cluster directory');
  });
});
