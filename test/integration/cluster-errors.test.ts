// Bad input and faults of local clusters: each gives a clear DbRouterError, and a failed `up`
// leaves no process and no data directory behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import { isDbRouterError, type ErrorCode } from '../../src/errors.js';
import { openCluster, startCluster, type Engine, type LocalCluster, type StartClusterOptions } from '../../src/local/index.js';
import { isAlive, processesMentioning } from '../../src/local/processes.js';
import { engineSkip, ownCluster, sharedCluster } from '../harness/clusters.js';
import { stateOf } from './postgres-cluster-suite.js';

let scratchCount = 0;
const scratch = (label: string): string => path.join(tmpdir(), `dbrouter-test-err-${label}-${process.pid}-${++scratchCount}`);
const madeDirs: string[] = [];
const madeDir = (label: string): string => {
  const dir = mkdtempSync(path.join(tmpdir(), `dbrouter-test-${label}-`));
  madeDirs.push(dir);
  return dir;
};
// On exit: a root-level after() left the directories made by tests inside describe blocks behind.
process.on('exit', () => {
  for (const dir of madeDirs) rmSync(dir, { recursive: true, force: true });
});

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const runCli = fileURLToPath(new URL('../harness/run-cli.ts', import.meta.url));
function cliFails(args: string[], options: { cwd?: string } = {}): string {
  try {
    execFileSync(process.execPath, ['--import', import.meta.resolve('tsx'), runCli, 'cluster', ...args], {
      cwd: options.cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const failure = e as { status: number; stderr: string };
    assert.equal(failure.status, 1);
    return failure.stderr;
  }
  assert.fail(`dbrouter cluster ${args.join(' ')} succeeded`);
}

describe('binaries missing', () => {
  const empty = madeDir('empty-bin');

  test('postgres: BINARIES_MISSING naming the directory, nothing created', async () => {
    const dir = scratch('nobin-pg');
    await assert.rejects(startCluster({ engine: 'postgres', dir, binDir: empty }), (e: unknown) => {
      assert.ok(isDbRouterError(e, 'BINARIES_MISSING'));
      assert.match(e.message, new RegExp(`no PostgreSQL server in ${empty}`));
      return true;
    });
    assert.equal(existsSync(dir), false);
  });

  test('mariadb: BINARIES_MISSING saying how to install it', async () => {
    const dir = scratch('nobin-my');
    await assert.rejects(startCluster({ engine: 'mariadb', dir, binDir: empty }), (e: unknown) => {
      assert.ok(isDbRouterError(e, 'BINARIES_MISSING'));
      assert.match(e.message, /mariadbd not found .*apt-get install mariadb-server/);
      return true;
    });
    assert.equal(existsSync(dir), false);
  });
});

test('down on a directory with no cluster: CLUSTER_NOT_FOUND, from the API and the CLI', async () => {
  const dir = madeDir('nocluster');
  await assert.rejects(openCluster(dir), (e: unknown) => {
    assert.ok(isDbRouterError(e, 'CLUSTER_NOT_FOUND'));
    assert.match(e.message, /no cluster in .* start one with `dbrouter cluster up --dir/);
    return true;
  });
  assert.match(cliFails(['down', '--dir', dir]), /dbrouter: no cluster in .*\[CLUSTER_NOT_FOUND\]/);
});

/**
 * Per engine: how to make an `up` fail once every server runs (so there are processes to clean
 * up), and what it then says.
 */
const faultEngines: { engine: Engine; skip: string | false; failedUp: { options: Partial<StartClusterOptions>; code: ErrorCode; error: RegExp } }[] = [
  {
    engine: 'postgres',
    skip: await engineSkip('postgres'),
    // hot_standby=off: the primary starts, the replicas never accept connections.
    failedUp: {
      options: { settings: { hot_standby: 'off' }, startTimeoutMillis: 1500 },
      code: 'CLUSTER_START_FAILED',
      error: /replica1 \(port \d+\) did not accept connections within 1500 ms\. Last lines of/,
    },
  },
  {
    engine: 'mariadb',
    skip: await engineSkip('mariadb'),
    // Every server runs with the same server id: a replica's IO thread refuses its primary.
    failedUp: {
      options: { settings: { 'server-id': '1' }, catchUpTimeoutMillis: 1500 },
      code: 'REPLICA_CATCH_UP_TIMEOUT',
      error: /replica1 never connected to the primary within 1500 ms\. Last lines of/,
    },
  },
];

for (const { engine, skip, failedUp } of faultEngines) describe(`faults on ${engine}`, { skip }, () => {
  let shared: LocalCluster;
  before(async () => {
    shared = await sharedCluster(engine);
  });

  test('port in use: PORT_IN_USE naming the port, nothing created', async () => {
    const server = await listen(0);
    const address = server.address();
    assert.ok(address && typeof address === 'object');
    const port = address.port;
    const dir = scratch('port');
    try {
      await assert.rejects(startCluster({ engine, dir, basePort: port - 1 }), (e: unknown) => {
        assert.ok(isDbRouterError(e, 'PORT_IN_USE'));
        assert.match(e.message, new RegExp(`port ${port} on 127.0.0.1 is in use`));
        return true;
      });
      assert.match(cliFails(['up', '--engine', engine, '--dir', dir, '--base-port', String(port)]), new RegExp(`port ${port} .*\\[PORT_IN_USE\\]`));
    } finally {
      server.close();
    }
    assert.equal(existsSync(dir), false);
  });

  test('unknown alias: UNKNOWN_ALIAS listing the aliases', async () => {
    await assert.rejects(shared.pause('replica9'), (e: unknown) => {
      assert.ok(isDbRouterError(e, 'UNKNOWN_ALIAS'));
      assert.match(e.message, /unknown alias 'replica9': this cluster has default, replica1, replica2/);
      return true;
    });
    assert.match(cliFails(['kill', 'nope', '--dir', shared.dir]), /unknown alias 'nope'.*\[UNKNOWN_ALIAS\]/);
  });

  test('promote on the primary: NOT_A_REPLICA, and nothing changes', async () => {
    await assert.rejects(shared.promote('default'), { code: 'NOT_A_REPLICA', message: /cannot promote 'default': it is the primary/ });
    assert.match(cliFails(['promote', 'default', '--dir', shared.dir]), /\[NOT_A_REPLICA\]/);
    assert.deepEqual(
      (await shared.status()).map((n) => [n.alias, n.role, n.up]),
      [
        ['default', 'primary', true],
        ['replica1', 'replica', true],
        ['replica2', 'replica', true],
      ],
    );
  });

  test('up on a directory whose cluster runs: CLUSTER_EXISTS with the commands to use', async () => {
    await assert.rejects(startCluster({ engine, dir: shared.dir }), (e: unknown) => {
      assert.ok(isDbRouterError(e, 'CLUSTER_EXISTS'));
      assert.match(e.message, /already running in .*dbrouter cluster down --dir/);
      return true;
    });
  });

  test('--dir holding a cluster from a crashed run: detected, refused with the command that cleans it', async () => {
    const cluster = await ownCluster(engine, { replicas: 1 });
    const state = stateOf(cluster);
    // The crash: every server dies, nobody updates the state file.
    for (const node of state.nodes) if (node.pid !== null) process.kill(node.pid, 'SIGKILL');
    for (const node of state.nodes) {
      for (let i = 0; i < 2000 && node.pid !== null && isAlive(node.pid); i++) await new Promise((r) => setTimeout(r, 5));
    }
    await assert.rejects(startCluster({ engine, dir: cluster.dir }), (e: unknown) => {
      assert.ok(isDbRouterError(e, 'CLUSTER_EXISTS'));
      assert.match(e.message, new RegExp(`holds a cluster that is not running .*\`dbrouter cluster down --dir ${cluster.dir}\``));
      return true;
    });
    const reopened = await openCluster(cluster.dir);
    assert.deepEqual((await reopened.status()).map((n) => n.up), [false, false]);
    await reopened.down();
    assert.equal(existsSync(cluster.dir), false);
    assert.equal(existsSync(state.dataRoot), false);
  });

  test('a failed up leaves no process and no data directory', async () => {
    const dir = scratch('failed');
    const dataRoot = scratch('failed-data');
    const tmpMode = statSync(tmpdir()).mode;
    let started = 0;
    await assert.rejects(
      startCluster({
        engine, dir, dataRoot, replicas: 1, ...failedUp.options,
        onProgress: (step) => {
          if (step.startsWith('starting')) started++;
        },
      }),
      (e: unknown) => {
        assert.ok(isDbRouterError(e, failedUp.code), String(e));
        assert.match(e.message, failedUp.error);
        return true;
      },
    );
    assert.equal(started, 1, 'it failed after the servers were started');
    assert.deepEqual(processesMentioning(dataRoot), []);
    assert.equal(existsSync(dataRoot), false);
    assert.equal(existsSync(dir), false);
    assert.equal(statSync(tmpdir()).mode, tmpMode, 'the parent of dataRoot keeps its mode');
  });

  test('an interrupted up (AbortSignal, as the CLI on Ctrl-C) leaves no process and no data directory', async () => {
    const dir = scratch('aborted');
    const dataRoot = scratch('aborted-data');
    const abort = new AbortController();
    await assert.rejects(
      startCluster({
        engine: 'postgres',
        dir,
        dataRoot,
        replicas: 1,
        signal: abort.signal,
        onProgress: (step) => {
          if (step.startsWith('starting')) abort.abort();
        },
      }),
      { name: 'AbortError' },
    );
    assert.deepEqual(processesMentioning(dataRoot), []);
    assert.equal(existsSync(dataRoot), false);
    assert.equal(existsSync(dir), false);
  });

  test('down on a directory with no cluster: CLUSTER_NOT_FOUND, with --dir and in the default directory', () => {
    const dir = madeDir(`nocluster-${engine}`);
    assert.match(cliFails(['down', '--engine', engine, '--dir', dir]), /dbrouter: no cluster in .*\[CLUSTER_NOT_FOUND\]/);
    // No --dir: the engine's default directory under the working directory, which has none.
    const stderr = cliFails(['down', '--engine', engine], { cwd: dir });
    assert.match(stderr, new RegExp(`no cluster in ${dir}/\\.dbrouter/cluster-${engine}.*\\[CLUSTER_NOT_FOUND\\]`));
  });

  test('a non-empty directory without a cluster is refused', async () => {
    const dir = madeDir('full');
    mkdirSync(path.join(dir, 'something'));
    await assert.rejects(startCluster({ engine, dir }), { code: 'CLUSTER_EXISTS', message: /is not empty/ });
  });

});
