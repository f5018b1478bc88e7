export type { ReplicationPositions, RowsFn } from '../routing/positions.js';

/** The first column of the first row as a string, or undefined. */
export function firstValue(rows: readonly Record<string, unknown>[]): string | undefined {
  const row = rows[0];
  if (row === undefined) return undefined;
  const v = Object.values(row)[0];
  if (v === null || v === undefined) return undefined;
  return typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'number' || typeof v === 'bigint' ? String(v) : undefined;
}
