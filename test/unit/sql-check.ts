// Shared table-driven checker for the SQL classification tests (not a test file itself).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classify, type Classification, type ClassifyOptions, type Dialect } from '../../src/sql/index.js';

export type Row = readonly [
  sql: string,
  target: 'primary' | 'replica',
  reason: string,
  more?: Partial<Pick<Classification, 'verb' | 'effect' | 'readOnly' | 'tables'>>,
];

/** One test per row: the classification's target and reason, and any fields in `more`. */
export function check(dialect: Dialect, rows: readonly Row[], options?: ClassifyOptions): void {
  for (const [sql, target, reason, more] of rows) {
    test(JSON.stringify(sql), () => {
      const c = classify(sql, dialect, options);
      const got: Record<string, unknown> = { target: c.target, reason: c.reason };
      const want: Record<string, unknown> = { target, reason };
      for (const [key, value] of Object.entries(more ?? {})) {
        got[key] = c[key as keyof Classification];
        want[key] = value;
      }
      assert.deepEqual(got, want);
    });
  }
}
