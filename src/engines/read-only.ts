import type { Classification } from '../sql/types.js';
import type { ClusterInternals } from '../routing/contracts.js';
import { checkReadOnly } from '../routing/read-only.js';

/**
 * A plain `BEGIN`/`START TRANSACTION` on a read-only pool can only read: it is routed as the
 * `BEGIN READ ONLY` it amounts to (a replica). Not one that asks for SERIALIZABLE or READ WRITE,
 * which a PostgreSQL standby refuses: those stay on the primary. A `SET TRANSACTION` asking for
 * either right after such a BEGIN moves the transaction to the primary (the binding does it).
 */
const STAYS_ON_PRIMARY = /\b(?:serializable|read\s+write)\b/i;

function readOnlyBegin(sql: string, c: Classification): Classification {
  if (c.reason !== 'transaction-begin' || STAYS_ON_PRIMARY.test(sql)) return c;
  return Object.freeze({ ...c, target: 'replica', reason: 'transaction-read-only', readOnly: true });
}

/**
 * A read-only pool's view of its cluster: the same internals, except that every statement the
 * pool or its clients classify or route is checked first. Every path to a server (one-shot
 * queries, checked-out clients, streams, pinned pools) classifies through `classify` or `route`,
 * so nothing reaches a node unchecked. The other members are the cluster's own (the prototype).
 */
export function readOnlyInternals(cx: ClusterInternals): ClusterInternals {
  const classify = (sql: string): Classification => readOnlyBegin(sql, checkReadOnly(cx.classify(sql)));
  const view: Partial<ClusterInternals> = Object.create(cx) as Partial<ClusterInternals>;
  Object.defineProperties(view, {
    classify: { value: classify },
    route: { value: (sql: string, c?: Classification) => cx.route(sql, c === undefined ? classify(sql) : checkReadOnly(c)) },
  });
  return view as ClusterInternals;
}
