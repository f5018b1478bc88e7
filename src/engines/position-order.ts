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

/** One MariaDB GTID: `domain-server-seq`. */
interface Gtid { readonly server: bigint; readonly seq: bigint }

/**
 * A MariaDB GTID position (`0-1-42,1-3-7`) as the last GTID of each replication domain. A list
 * naming one domain twice (as `gtid_binlog_state` does) keeps the highest sequence number.
 * `undefined` when the text is not a GTID list.
 */
export function parseGtidList(pos: string): Map<bigint, Gtid> | undefined {
  const out = new Map<bigint, Gtid>();
  for (const part of pos.split(',')) {
    if (part.trim() === '') continue;
    const m = /^\s*(\d+)-(\d+)-(\d+)\s*$/.exec(part);
    if (!m) return undefined;
    const domain = BigInt(m[1]!);
    const gtid = { server: BigInt(m[2]!), seq: BigInt(m[3]!) };
    const prev = out.get(domain);
    if (prev === undefined || gtid.seq > prev.seq) out.set(domain, gtid);
  }
  return out;
}

// MariaDB: a position reaches another when every domain of `want` is there with a sequence number
// at least as high. gtid_strict_mode keeps sequence numbers growing per domain across server ids
// (a promoted server continues the sequence), so a higher one is taken as a later point of the
// same history. At the same sequence number the server ids must agree: two servers that each wrote
// seq 42 hold two different transactions, and the one we have is not the one asked for. History
// that split below the sequence number cannot be seen from two positions alone: the monitor checks
// each replica against its primary (`diverged`) and watches the replication threads for that.
function mariadbReached(have: string, want: string): boolean {
  const h = parseGtidList(have);
  const w = parseGtidList(want);
  if (!h || !w) return false;
  for (const [domain, gtid] of w) {
    const got = h.get(domain);
    if (got === undefined || got.seq < gtid.seq) return false;
    if (got.seq === gtid.seq && got.server !== gtid.server) return false;
  }
  return true;
}

function mergeMariadb(a: string, b: string): string {
  const x = parseGtidList(a);
  const y = parseGtidList(b);
  if (!x || !y) return b;
  const out = new Map(x);
  for (const [domain, gtid] of y) {
    const prev = out.get(domain);
    if (prev === undefined || gtid.seq >= prev.seq) out.set(domain, gtid);
  }
  return formatGtidList(out);
}

function formatGtidList(list: ReadonlyMap<bigint, Gtid>): string {
  return [...list.entries()]
    .sort(([d1], [d2]) => (d1 < d2 ? -1 : d1 > d2 ? 1 : 0))
    .map(([domain, g]) => `${domain}-${g.server}-${g.seq}`)
    .join(',');
}

/** Transactions of a MySQL GTID set, per source (`uuid`, or `uuid:tag` since MySQL 8.3): sorted, disjoint, non-adjacent intervals. */
export type GtidSet = Map<string, Array<[bigint, bigint]>>;

/**
 * A MySQL GTID set (`uuid:1-5:7,uuid2:1-3`, tags allowed) as intervals per source. `undefined`
 * when the text is not a GTID set.
 */
export function parseGtidSet(set: string): GtidSet | undefined {
  const raw = new Map<string, Array<[bigint, bigint]>>();
  const text = set.replace(/\s+/g, '');
  for (const part of text.split(',')) {
    if (part === '') continue;
    const [uuid, ...rest] = part.split(':');
    if (!uuid || !/^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/.test(uuid) || rest.length === 0) return undefined;
    let source = uuid.toLowerCase().replaceAll('-', '');
    let any = false;
    for (const r of rest) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(r);
      if (!m) {
        // A tag (MySQL 8.3+) starts a new source: the intervals after it belong to uuid:tag.
        if (!/^[a-zA-Z_][a-zA-Z0-9_]{0,31}$/.test(r)) return undefined;
        source = `${uuid.toLowerCase().replaceAll('-', '')}:${r.toLowerCase()}`;
        continue;
      }
      const lo = BigInt(m[1]!);
      const hi = BigInt(m[2] ?? m[1]!);
      if (lo < 1n || hi < lo) return undefined;
      const list = raw.get(source) ?? [];
      list.push([lo, hi]);
      raw.set(source, list);
      any = true;
    }
    if (!any) return undefined;
  }
  const out: GtidSet = new Map();
  for (const [source, list] of raw) out.set(source, normalize(list));
  return out;
}

function normalize(list: Array<[bigint, bigint]>): Array<[bigint, bigint]> {
  const sorted = [...list].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const out: Array<[bigint, bigint]> = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1n) last[1] = hi > last[1] ? hi : last[1];
    else out.push([lo, hi]);
  }
  return out;
}

/** Transactions of `want` that `have` lacks (both normalized). */
function missing(have: GtidSet, want: GtidSet): bigint {
  let count = 0n;
  for (const [source, ranges] of want) {
    const got = have.get(source) ?? [];
    for (const [lo, hi] of ranges) {
      let n = hi - lo + 1n;
      for (const [a, b] of got) {
        const from = a > lo ? a : lo;
        const to = b < hi ? b : hi;
        if (to >= from) n -= to - from + 1n;
      }
      count += n;
    }
  }
  return count;
}

// MySQL: `have` reaches `want` when it holds every transaction of `want` (set inclusion).
function mysqlReached(have: string, want: string): boolean {
  const h = parseGtidSet(have);
  const w = parseGtidSet(want);
  return h !== undefined && w !== undefined && missing(h, w) === 0n;
}

function mergeMysql(a: string, b: string): string {
  const x = parseGtidSet(a);
  const y = parseGtidSet(b);
  if (!x || !y) return b;
  if (missing(x, y) === 0n) return a;
  if (missing(y, x) === 0n) return b;
  const out: GtidSet = new Map();
  for (const source of new Set([...x.keys(), ...y.keys()])) out.set(source, normalize([...(x.get(source) ?? []), ...(y.get(source) ?? [])]));
  return [...out.entries()].map(([source, ranges]) => `${formatSource(source)}:${ranges.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(':')}`).join(',');
}

function formatSource(source: string): string {
  const [hex, tag] = source.split(':');
  const u = hex!;
  const uuid = `${u.slice(0, 8)}-${u.slice(8, 12)}-${u.slice(12, 16)}-${u.slice(16, 20)}-${u.slice(20)}`;
  return tag === undefined ? uuid : `${uuid}:${tag}`;
}

/**
 * How many transactions a node at `have` lacks to reach `want`: per MariaDB domain the difference
 * of sequence numbers (a domain `have` does not know counts from 0), for MySQL the transactions of
 * `want` not in `have`. 0 when caught up, `undefined` when a position is unreadable.
 *
 * @example
 *   gtidDistance('mariadb', '0-1-40', '0-1-42,1-2-3') // 5
 */
export function gtidDistance(kind: 'mariadb' | 'mysql', have: string, want: string): number | undefined {
  if (kind === 'mysql') {
    const h = parseGtidSet(have);
    const w = parseGtidSet(want);
    return h && w ? Number(missing(h, w)) : undefined;
  }
  const h = parseGtidList(have);
  const w = parseGtidList(want);
  if (!h || !w) return undefined;
  let total = 0n;
  for (const [domain, gtid] of w) {
    const got = h.get(domain)?.seq ?? 0n;
    if (gtid.seq > got) total += gtid.seq - got;
  }
  return Number(total);
}

/**
 * Whether a replica holds transactions its primary lacks: `replica` (any position the replica
 * holds: what it applied, what its own binlog has) is not reached by `primary`, read after it.
 * For MariaDB that is a domain the primary never had, a sequence number beyond the primary's, or
 * the same sequence number from another server; for MySQL a GTID outside the primary's set; for
 * PostgreSQL WAL beyond the primary's. False when either position is unreadable.
 *
 * @example
 *   holdsMore('mariadb', '0-1-1000', '0-1-51') // true: seq 1000 was never written by this primary
 */
export function holdsMore(kind: PositionKind, replica: string, primary: string): boolean {
  return readable(kind, replica) && readable(kind, primary) && !reached(kind, primary, replica);
}

/**
 * Whether `position` is a position of this kind (an LSN, a MariaDB GTID list, a MySQL GTID set):
 * what a position that did not come from a query of ours (a driver's result) must be to be used.
 *
 * @example
 *   readable('mariadb', '0-1-42') // true
 *   readable('mariadb', '0/3000148') // false
 */
export function readable(kind: PositionKind, position: string): boolean {
  return kind === 'postgres' ? parseLsn(position) !== undefined
    : kind === 'mariadb' ? parseGtidList(position) !== undefined
      : parseGtidSet(position) !== undefined;
}
