/**
 * Real replicated clusters for integration tests, through the public `dbrouter/cluster` API.
 *
 * Read-mostly tests share one running cluster per engine (a primary `default` + `replica1`,
 * `replica2`). `npm test` starts them once (scripts/test.mjs) and passes their directories in
 * DBROUTER_TEST_PG_DIR / DBROUTER_TEST_MARIADB_DIR; a file run alone starts its own and removes
 * it when the process exits.
 *
 *   import { describe, before, test } from 'node:test';
 *   import { sharedCluster, engineSkip } from '../harness/clusters.js';
 *   import type { LocalCluster } from '../../src/local/index.js';
 *
 *   describe('reads go to replicas (postgres)', { skip: await engineSkip('postgres') }, () => {
 *     let cluster: LocalCluster;
 *     before(async () => { cluster = await sharedCluster('postgres'); });
 *     test('...', async () => {
 *       const { url } = cluster.databases.default;      // also replica1, replica2
 *       // write on the primary, then:
 *       await cluster.waitForAllReplicas();              // or waitForReplay('replica1', position)
 *       await cluster.pause('replica1');                 // deterministic lag ...
 *       await cluster.resume('replica1');                // ... always undone before the test ends
 *     });
 *   });
 *
 * Rules for the shared cluster: leave it as you found it (resume what you pause, `setDelay(alias, 0)`),
 * use your own table names, never kill or promote on it. For kill/start/promote use
 * `ownCluster(engine)` and `await cluster.down()` in `after()`.
 *
 * Missing engine binaries: `engineSkip` returns the reason, so the suite shows as skipped with it —
 * except under CI=true, where it returns false and the suite fails on the missing binaries.
 * DBROUTER_TEST_ENGINES (e.g. `postgres`) skips the other engines' suites.
 */
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDbRouterError } from '../../src/errors.js';
import { destroyClusterSync, findMariadb, findPostgres, openCluster, startCluster } from '../../src/local/index.js';
import type { Engine, LocalCluster, StartClusterOptions } from '../../src/local/index.js';

/** Environment variables naming the shared clusters' directories. */
export const SHARED_DIR_ENV: Readonly<Record<Engine, string>> = {
  postgres: 'DBROUTER_TEST_PG_DIR',
  mariadb: 'DBROUTER_TEST_MARIADB_DIR',
};

type Options = Omit<StartClusterOptions, 'engine' | 'dir'>;

/**
 * `false` when the engine's binaries are present (or under CI=true), else the reason to skip,
 * also printed on stderr so a skipped engine is visible in any reporter.
 */
export async function engineSkip(engine: Engine, options: Pick<Options, 'postgresSource' | 'binDir'> = {}): Promise<string | false> {
  // The PostgreSQL 18 pass of scripts/test.mjs runs files that cover both engines: only their PostgreSQL half.
  const engines = process.env.DBROUTER_TEST_ENGINES;
  if (engines && !engines.split(',').includes(engine)) return `${engine}: not in this pass (DBROUTER_TEST_ENGINES=${engines})`;
  try {
    if (engine === 'postgres') await findPostgres({ binDir: options.binDir, source: options.postgresSource });
    else await findMariadb({ binDir: options.binDir });
    return false;
  } catch (e) {
    if (!isDbRouterError(e, 'BINARIES_MISSING') || process.env.CI === 'true') return false;
    const reason = `${engine}${options.postgresSource ? ` (${options.postgresSource})` : ''} binaries missing: ${e.message}`;
    process.stderr.write(`# SKIP ${reason}\n`);
    return reason;
  }
}

const exitCleanups = new Set<string>();
process.on('exit', () => {
  for (const dir of exitCleanups) destroyClusterSync(dir);
});

let scratchCount = 0;
/** A fresh path (not created: startCluster creates it, and a failed start leaves nothing). */
function scratchDir(label: string): string {
  scratchCount += 1;
  return path.join(tmpdir(), `dbrouter-test-${label}-${process.pid}-${scratchCount}`);
}

const shared = new Map<Engine, Promise<LocalCluster>>();

/** The running cluster of `engine` shared by all integration test files (started on first use when run alone). */
export function sharedCluster(engine: Engine): Promise<LocalCluster> {
  let cluster = shared.get(engine);
  if (!cluster) {
    const dir = process.env[SHARED_DIR_ENV[engine]];
    cluster = dir ? openCluster(dir).then(restore) : ownCluster(engine);
    shared.set(engine, cluster);
  }
  return cluster;
}

/** Undoes lag a previous test file may have left on the shared cluster (a failed test skips its cleanup). */
async function restore(cluster: LocalCluster): Promise<LocalCluster> {
  for (const node of await cluster.status()) {
    if (node.role !== 'replica' || !node.up) continue;
    if (node.paused) await cluster.resume(node.alias);
    if (node.delayMillis > 0) await cluster.setDelay(node.alias, 0);
  }
  return cluster;
}

/**
 * A cluster of this test file's own, for destructive tests (kill, promote). Call `down()` when
 * done; it is also removed when the process exits.
 */
export async function ownCluster(engine: Engine, options: Options = {}): Promise<LocalCluster> {
  const dir = scratchDir(engine);
  exitCleanups.add(dir);
  return startCluster({ engine, dir, ...options });
}

/**
 * Starts the shared clusters for a whole test run (scripts/test.mjs), of every engine or of `engines`
 * (the PostgreSQL 18 pass starts only `postgres`, with DBROUTER_PG_BIN set). Engines whose binaries are
 * missing are left out (their test files skip, or fail under CI). Returns the env to pass on and
 * a teardown.
 */
export async function startSharedClusters(
  engines: readonly Engine[] = ['postgres', 'mariadb'],
): Promise<{ env: Record<string, string>; down: () => Promise<void>; timings: string[] }> {
  const started: LocalCluster[] = [];
  const env: Record<string, string> = {};
  const timings: string[] = [];
  const results = await Promise.allSettled(
    engines.map(async (engine) => {
      const t0 = performance.now();
      const dir = scratchDir(`shared-${engine}`);
      exitCleanups.add(dir);
      const cluster = await startCluster({ engine, dir });
      started.push(cluster);
      env[SHARED_DIR_ENV[engine]] = cluster.dir;
      timings.push(`${engine} shared cluster up in ${Math.round(performance.now() - t0)} ms`);
    }),
  );
  for (const [i, r] of results.entries()) {
    if (r.status === 'rejected') timings.push(`${engines[i]} shared cluster not started: ${String((r.reason as Error).message).split('\n')[0]}`);
  }
  return {
    env,
    timings,
    down: async () => {
      await Promise.all(started.map((c) => c.down()));
    },
  };
}
