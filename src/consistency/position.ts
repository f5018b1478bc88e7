import type { PositionKind } from '../routing/positions.js';

export type { PositionKind };

/**
 * Replication positions, engine by engine, as plain comparable values.
 *
 * - PostgreSQL: a WAL LSN such as `0/3000148` (two hex halves of a 64-bit offset).
 * - MariaDB: a GTID position such as `0-1-42,1-3-7` (domain-server-sequence per replication domain).
 * - MySQL: a GTID set such as `3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7,...`.
 *
 * `reached(have, want)` answers "has a node at position `have` applied everything up to `want`?".
 * It is false when it cannot tell (an unparsable position): a stale read must never be the outcome.
 *
 * @example
 *   reached('postgres', '0/3000200', '0/3000148') // true
 *   reached('mariadb', '0-1-41', '0-1-42')        // false
 */
export function reached(kind: PositionKind, have: string, want: string): boolean {
  switch (kind) {
    case 'postgres': {
      const h = parseLsn(have);
      const w = parseLsn(want);
      return h !== undefined && w !== undefined && h >= w;
    }
    case 'mariadb':
      return mariadbReached(have, want);
    case 'mysql':
      return mysqlReached(have, want);
  }
}

/** The later of two positions of the same kind, for merging a context's writes. Unparsable → `b`. */
export function later(kind: PositionKind, a: string | undefined, b: string): string {
  if (a === undefined || a === b) return b;
  switch (kind) {
    case 'postgres': {
      const x = parseLsn(a);
      const y = parseLsn(b);
      return x !== undefined && y !== undefined && x > y ? a : b;
    }
    case 'mariadb':
      return mergeMariadb(a, b);
    case 'mysql':
      return mergeMysql(a, b);
  }
}

/** Bytes between two LSNs (`want - have`), 0 when `have` is ahead; undefined when unparsable. */
export function lsnDistance(have: string, want: string): number | undefined {
  const h = parseLsn(have);
  const w = parseLsn(want);
  if (h === undefined || w === undefined) return undefined;
  return w > h ? Number(w - h) : 0;
}

const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function parseLsn(lsn: string): bigint | undefined {
  const m = LSN.exec(lsn);
  if (!m) return undefined;
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

// MariaDB: one domain-server-seq triple per domain. Sequence numbers grow per domain across server
// ids (gtid_strict_mode), so a domain is reached when have.seq >= want.seq.
function parseMariadb(pos: string): Map<string, bigint> | undefined {
  const out = new Map<string, bigint>();
  const text = pos.trim();
  if (text === '') return out;
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)-(\d+)-(\d+)\s*$/.exec(part);
    if (!m) return undefined;
    const domain = m[1]!;
    const seq = BigInt(m[3]!);
    const prev = out.get(domain);
    if (prev === undefined || seq > prev) out.set(domain, seq);
  }
  return out;
}

function mariadbReached(have: string, want: string): boolean {
  const h = parseMariadb(have);
  const w = parseMariadb(want);
  if (!h || !w) return false;
  for (const [domain, seq] of w) {
    const got = h.get(domain);
    if (got === undefined || got < seq) return false;
  }
  return true;
}

function mergeMariadb(a: string, b: string): string {
  const x = parseMariadb(a);
  const y = parseMariadb(b);
  if (!x || !y) return b;
  const parts = new Map<string, string>();
  for (const text of [a, b]) {
    for (const part of text.split(',')) {
      const m = /^\s*(\d+)-(\d+)-(\d+)\s*$/.exec(part);
      if (!m) continue;
      const best = (x.get(m[1]!) ?? 0n) > (y.get(m[1]!) ?? 0n) ? x.get(m[1]!) : y.get(m[1]!);
      if (BigInt(m[3]!) === best) parts.set(m[1]!, part.trim());
    }
  }
  return [...parts.entries()].sort(([d1], [d2]) => Number(d1) - Number(d2)).map(([, p]) => p).join(',');
}

// MySQL: uuid:interval[:interval...] per server, comma separated; reached when every transaction
// of `want` is contained in `have`.
type Intervals = Array<[bigint, bigint]>;

function parseMysql(set: string): Map<string, Intervals> | undefined {
  const out = new Map<string, Intervals>();
  const text = set.replace(/\s+/g, '');
  if (text === '') return out;
  for (const part of text.split(',')) {
    const [uuid, ...ranges] = part.split(':');
    if (!uuid || !/^[0-9a-fA-F-]{36}$/.test(uuid) || ranges.length === 0) return undefined;
    const list = out.get(uuid.toLowerCase()) ?? [];
    for (const r of ranges) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(r);
      if (!m) return undefined;
      list.push([BigInt(m[1]!), BigInt(m[2] ?? m[1]!)]);
    }
    out.set(uuid.toLowerCase(), list);
  }
  return out;
}

function covered(have: Intervals, lo: bigint, hi: bigint): boolean {
  const sorted = [...have].sort((p, q) => (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : 0));
  let next = lo;
  for (const [s, e] of sorted) {
    if (s > next) break;
    if (e >= next) next = e + 1n;
    if (next > hi) return true;
  }
  return next > hi;
}

function mysqlReached(have: string, want: string): boolean {
  const h = parseMysql(have);
  const w = parseMysql(want);
  if (!h || !w) return false;
  for (const [uuid, ranges] of w) {
    const got = h.get(uuid);
    for (const [lo, hi] of ranges) if (!got || !covered(got, lo, hi)) return false;
  }
  return true;
}

function mergeMysql(a: string, b: string): string {
  if (mysqlReached(a, b)) return a;
  if (mysqlReached(b, a)) return b;
  // Neither contains the other: their union, written as the two sets side by side is valid GTID syntax.
  return parseMysql(a) && parseMysql(b) ? `${a},${b}` : b;
}
