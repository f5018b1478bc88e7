// dbrouter status against real replicated clusters: healthy → exit 0; a replica whose replay is
// paused past --max-lag → lagging, exit 1. The configuration comes from the environment alone
// (DBROUTER_DATABASES_<ALIAS>_URL), as a container health check would give it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { StatusReport } from '../../src/cli/status.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';
import { ROOT } from './demo-process.js';

const empty = mkdtempSync(path.join(tmpdir(), 'dbrouter-status-cwd-'));
after(() => rmSync(empty, { recursive: true, force: true }));

function status(local: LocalCluster, args: string[]): Promise<{ code: number; report: StatusReport; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [alias, db] of Object.entries(local.databases)) env[`DBROUTER_DATABASES_${alias.toUpperCase()}_URL`] = db.url;
  return new Promise((resolve, reject) => {
    // cwd without a config file: the environment is the whole configuration.
    execFile(process.execPath, ['--import', path.join(ROOT, 'node_modules/tsx/dist/esm/index.mjs'), path.join(ROOT, 'test/harness/run-cli.ts'), 'status', '--json', ...args],
      { cwd: empty, env, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? err.code : 0;
        if (typeof code !== 'number') return reject(err ?? new Error('no exit code'));
        try {
          resolve({ code, report: JSON.parse(stdout) as StatusReport, stderr });
        } catch {
          reject(new Error(`not JSON (exit ${code}): ${stdout}\n${stderr}`));
        }
      });
  });
}

for (const engine of ['postgres', 'mariadb'] as const) {
  describe(`dbrouter status on a real ${engine} cluster`, { skip: await engineSkip(engine) }, () => {
    let local: LocalCluster;
    before(async () => {
      local = await sharedCluster(engine);
    });

    test('healthy: every node up with its role, exit 0', async () => {
      const { code, report, stderr } = await status(local, []);
      assert.equal(code, 0, `${JSON.stringify(report)}\n${stderr}`);
      assert.equal(report.healthy, true);
      assert.equal(report.primary, 'default');
      assert.deepEqual(report.nodes.map((n) => [n.alias, n.role, n.state]), [['default', 'primary', 'up'], ['replica1', 'replica', 'up'], ['replica2', 'replica', 'up']]);
      assert.equal(report.file, null);
    });

    test('a replica with paused replay past --max-lag is lagging: exit 1', { skip: engine === 'mariadb' && 'the application user may not read SHOW SLAVE STATUS: one check sees no time lag' }, async () => {
      const client = new pg.Client({ connectionString: local.databases.default!.url });
      await client.connect();
      await local.pause('replica1');
      try {
        await client.query('CREATE TABLE IF NOT EXISTS status_lag (x int)');
        await client.query('INSERT INTO status_lag VALUES (1)');
        await new Promise((r) => setTimeout(r, 400));
        const { code, report } = await status(local, ['--max-lag', '200ms']);
        assert.equal(code, 1);
        assert.equal(report.healthy, false);
        const r1 = report.nodes.find((n) => n.alias === 'replica1')!;
        assert.equal(r1.state, 'lagging');
        assert.equal(r1.paused, true);
        // No transaction replayed since the replica started: PostgreSQL cannot date its lag, and
        // unknown lag counts as beyond any bound.
        if (r1.lagMillis === null) assert.match(report.degraded.join('\n'), /replica1 lag is unknown/);
        else assert.match(report.degraded.join('\n'), /replica1 lags [\d.]+ (ms|s) \(more than 200 ms\)/);
        assert.equal(report.nodes.find((n) => n.alias === 'replica2')!.state, 'up');
      } finally {
        await local.resume('replica1');
        await client.query('DROP TABLE IF EXISTS status_lag');
        await client.end();
        await local.waitForAllReplicas();
      }
    });
  });
}
