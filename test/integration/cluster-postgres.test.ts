// PostgreSQL clusters from the machine's binaries (PATH, /usr/lib/postgresql): replication, lag,
// failover, teardown, and the CLI's --json output used with psql.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import pg from 'pg';
import { findPostgres } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';
import { postgresClusterScenarios, stateOf } from './postgres-cluster-suite.js';

const skip = await engineSkip('postgres', { postgresSource: 'system' });

function cli(args: string[]): string {
  return execFileSync(process.execPath, ['--import', 'tsx', 'test/harness/run-cli.ts', 'cluster', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function hasPsql(): boolean {
  try {
    execFileSync('psql', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether psql can be used. Missing: under CI=true a failure (CI installs postgresql-client);
 * elsewhere a visible skip line, never a silent pass.
 */
function psqlOrSkip(t: TestContext): boolean {
  if (hasPsql()) return true;
  if (process.env.CI === 'true') assert.fail('psql is missing: install postgresql-client (apt-get install postgresql-client)');
  t.diagnostic('psql missing: the psql checks were skipped');
  process.stderr.write('# SKIP psql missing: cluster-postgres did not check the printed URLs with psql\n');
  return false;
}

describe('postgres cluster (system binaries)', { skip }, () => {
  postgresClusterScenarios(() => sharedCluster('postgres'));

  test('the cluster runs the system PostgreSQL: its server major version is the one of /usr/lib/postgresql/N', async () => {
    const system = await findPostgres({ source: 'system' });
    const cluster = await sharedCluster('postgres');
    if (!process.env.DBROUTER_PG_BIN) assert.equal(stateOf(cluster).binDir, system.binDir, 'the shared cluster uses the system binaries');
    const client = new pg.Client(cluster.databases.default!.url);
    await client.connect();
    const num = Number((await client.query<{ server_version_num: string }>('SHOW server_version_num')).rows[0]!.server_version_num);
    await client.end();
    const major = Math.floor(num / 10000);
    assert.equal(major, Number(system.version.split('.')[0]), `server_version_num ${num} against binaries ${system.version}`);
    const debianMajor = /^\/usr\/lib\/postgresql\/(\d+)\//.exec(`${system.binDir}/`)?.[1];
    if (debianMajor !== undefined) assert.equal(major, Number(debianMajor), `binaries in ${system.binDir}`);
    if (system.binDir.startsWith('/usr/lib/postgresql/15/')) assert.equal(major, 15);
  });

  test('CLI: up --json prints the databases, psql works with the printed URLs, lag/status/down work', (t) => {
    const dir = path.join(tmpdir(), `dbrouter-test-cli-pg-${process.pid}`);
    const printed = JSON.parse(cli(['up', '--engine', 'postgres', '--replicas', '2', '--dir', dir, '--json'])) as {
      engine: string;
      dir: string;
      databases: Record<string, { url: string; role: string }>;
    };
    try {
      assert.equal(printed.engine, 'postgres');
      assert.equal(printed.dir, dir);
      assert.deepEqual(
        Object.entries(printed.databases).map(([alias, db]) => [alias, db.role]),
        [
          ['default', 'primary'],
          ['replica1', 'replica'],
          ['replica2', 'replica'],
        ],
      );
      for (const db of Object.values(printed.databases)) assert.match(db.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
      if (psqlOrSkip(t)) {
        for (const [alias, db] of Object.entries(printed.databases)) {
          const inRecovery = execFileSync('psql', [db.url, '-XAtc', 'select pg_is_in_recovery()'], { encoding: 'utf8' }).trim();
          assert.equal(inRecovery, alias === 'default' ? 'f' : 't', alias);
        }
      }
      cli(['lag', 'replica1', 'pause', '--dir', dir]);
      cli(['lag', 'replica2', '--delay', '2s', '--dir', dir]);
      const status = JSON.parse(cli(['status', '--dir', dir, '--json'])) as { nodes: { alias: string; paused: boolean; delayMillis: number; up: boolean }[] };
      assert.deepEqual(
        status.nodes.map((n) => [n.alias, n.up, n.paused, n.delayMillis]),
        [
          ['default', true, false, 0],
          ['replica1', true, true, 0],
          ['replica2', true, false, 2000],
        ],
      );
    } finally {
      cli(['down', '--dir', dir]);
    }
    assert.throws(() => cli(['status', '--dir', dir]), /no cluster in/);
  });
});
