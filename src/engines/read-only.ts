import type { Classification } from '../sql/types.js';
import type { ClusterInternals } from '../routing/contracts.js';
import { checkReadOnly } from '../routing/read-only.js';

/**
 * A read-only pool's view of its cluster: the same internals, except that every statement the
 * pool or its clients classify or route is checked first. Every path to a server (one-shot
 * queries, checked-out clients, streams, pinned pools) classifies through `classify` or `route`,
 * so nothing reaches a node unchecked. The other members are the cluster's own (the prototype).
 */
export function readOnlyInternals(cx: ClusterInternals): ClusterInternals {
  const classify = (sql: string): Classification => checkReadOnly(cx.classify(sql));
  const view: Partial<ClusterInternals> = Object.create(cx) as Partial<ClusterInternals>;
  Object.defineProperties(view, {
    classify: { value: classify },
    route: { value: (sql: string, c?: Classification) => cx.route(sql, c === undefined ? classify(sql) : checkReadOnly(c)) },
  });
  return view as ClusterInternals;
}
