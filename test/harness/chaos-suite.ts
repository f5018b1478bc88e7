/**
 * One chaos configuration as a test (test/integration/chaos-*.test.ts): runs {@link runChaos}
 * within its budget, prints the one-line summary (and the fault timeline), then asserts that every
 * invariant held.
 *
 *   await chaosTest({ label: 'mariadb', engine: 'mariadb' });
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runChaos, type ChaosOptions } from './chaos.js';
import { engineSkip } from './clusters.js';

const BUDGET_MILLIS = 90_000;

export async function chaosTest(options: Omit<ChaosOptions, 'log' | 'budgetMillis'>): Promise<void> {
  describe(`chaos ${options.label}`, { skip: await engineSkip(options.engine) }, () => {
    test(
      `${options.label}: users keep reading their own writes, no read fails, writes fail only as WRITE_OUTCOME_UNKNOWN in flight on the ${options.faults === 'partition' ? 'primary as it went silent' : 'killed primary'}`,
      { timeout: BUDGET_MILLIS + 30_000 },
      async () => {
        const lines: string[] = [];
        const report = await runChaos({ ...options, budgetMillis: BUDGET_MILLIS, log: (line) => lines.push(line) });
        // Plain lines: the test runner shows a test file's own output as diagnostics.
        process.stdout.write(`${report.summary}\n${lines.map((l) => `${l}\n`).join('')}`);
        for (const v of report.violations) process.stdout.write(`VIOLATION ${options.label}: ${v}\n`);
        assert.deepEqual(report.violations, [], `${options.label}: invariants broken`);
        assert.ok(report.elapsedMillis <= BUDGET_MILLIS, `${options.label} took ${Math.round(report.elapsedMillis)} ms (budget ${BUDGET_MILLIS})`);
      },
    );
  });
}
