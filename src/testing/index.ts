/**
 * `dbrouter/testing`: helpers for an application's tests: record and assert where statements ran,
 * a one-database test configuration with read-only "replicas", and replica lag on a local cluster.
 *
 * @module
 */
import { AssertionError } from 'node:assert';
import type { Cluster } from '../cluster/cluster.js';
import { SAME_SERVER, type DatabaseObject } from '../cluster/config.js';
import type { RouteEvent } from '../cluster/stats.js';
import type { Role } from '../routing/router.js';
import { DbRouterError } from '../errors.js';

/** What {@link recordStatements} saw: `fn`'s result and every statement routed while it ran, in order. */
export interface Recorded<R> {
  /** What `fn` returned (awaited). */
  readonly result: R;
  /** Each statement routed while `fn` ran, in the order they finished. */
  readonly statements: readonly RouteEvent[];
}

/**
 * Runs `fn` and records where each statement it routed ran (alias, role, reason; never parameters).
 * Statements of other async work running at the same time on the same cluster are recorded too: keep
 * a test's work to itself.
 *
 * @example
 *   const { statements } = await recordStatements(cluster, () => orders.list(userId));
 *   statements.map((s) => s.alias); // ['replica1']
 */
export async function recordStatements<R>(cluster: Cluster, fn: () => R | Promise<R>): Promise<Recorded<Awaited<R>>> {
  const statements: RouteEvent[] = [];
  const onRoute = (e: RouteEvent): void => {
    statements.push(e);
  };
  cluster.on('route', onRoute);
  try {
    const result = await fn();
    return { result, statements };
  } finally {
    cluster.off('route', onRoute);
  }
}

/** What every statement of a block must satisfy in {@link assertStatements}. */
export interface StatementExpectation {
  /** Exactly this many statements. */
  readonly count?: number;
  /** Every statement ran on this alias (Django's `assertNumQueries(n, using=…)`). */
  readonly alias?: string;
  /** Every statement ran on a node of this role. */
  readonly role?: Role;
  /** Every statement was routed for this reason (`select`, `read-your-writes`, …). */
  readonly reason?: string;
}

/**
 * Runs `fn` and fails with an `AssertionError` listing where each statement ran unless every one
 * matches `expected`. Returns `fn`'s result.
 *
 * @example
 *   await assertStatements(cluster, () => orders.list(userId), { count: 1, role: 'replica' });
 *   await assertStatements(cluster, () => orders.create(order), { role: 'primary' });
 */
export async function assertStatements<R>(cluster: Cluster, fn: () => R | Promise<R>, expected: StatementExpectation): Promise<Awaited<R>> {
  const { result, statements } = await recordStatements(cluster, fn);
  const wrong = statements.filter((s) =>
    (expected.alias !== undefined && s.alias !== expected.alias)
    || (expected.role !== undefined && s.role !== expected.role)
    || (expected.reason !== undefined && s.reason !== expected.reason));
  const countWrong = expected.count !== undefined && statements.length !== expected.count;
  if (wrong.length > 0 || countWrong) {
    const lines = statements.map((s, i) => `  ${i + 1}. ${s.alias} (${s.role}, ${s.reason}) ${s.sql.length > 80 ? `${s.sql.slice(0, 77)}...` : s.sql}`);
    const want = Object.entries(expected).map(([k, v]) => `${k} ${String(v)}`).join(', ');
    throw new AssertionError({
      message: `Expected ${want}; ${statements.length} statement(s) ran:\n${lines.join('\n') || '  (none)'}`,
      actual: statements.map((s) => ({ alias: s.alias, role: s.role, reason: s.reason })),
      expected,
      operator: 'assertStatements',
    });
  }
  return result;
}

/**
 * For apps whose tests have one database and no replicas: a configuration (spread it into
 * `createCluster`) whose `databases` hold that
 * database as the primary (`default`) and as `replicas` read-only "replicas" (aliases `replica1`…):
 * PostgreSQL sessions with `default_transaction_read_only` on, so a statement routed to a replica
 * that writes fails there as it would on a real standby (and the misroute shows). Reads see the
 * primary's data at once: lag is not simulated (use a local cluster and {@link withReplicaLag}).
 * Health checking is off in it (every alias is one server, which a monitor would take for two
 * primaries).
 * MySQL/MariaDB: give the replicas a user without write privileges instead (`replicaUrl`).
 *
 * @example
 *   const cluster = createCluster({ ...testClusterConfig(process.env.DATABASE_URL!), routers });
 */
export function testClusterConfig(
  url: string,
  options: { readonly replicas?: number; readonly replicaUrl?: string } = {},
): {
  /** `default` (the primary) and `replica1`… (the same database, read-only). */
  readonly databases: Record<string, string | DatabaseObject>;
  /** No health monitor: every alias is one server. */
  readonly health: false;
} {
  const n = options.replicas ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new DbRouterError('CONFIG_INVALID', `testClusterConfig(): replicas must be a whole number of 1 or more, not ${String(n)}.`);
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch (cause) {
    throw new DbRouterError('CONFIG_INVALID', 'testClusterConfig(): the URL does not parse; write postgres://user:password@host:port/database (or mysql://…).', { cause });
  }
  const postgres = scheme === 'postgres:' || scheme === 'postgresql:';
  if (!postgres && options.replicaUrl === undefined) {
    throw new DbRouterError('CONFIG_INVALID', 'testClusterConfig(): on MySQL/MariaDB pass replicaUrl, a URL of the same database with a user that has only SELECT (a session cannot be made read-only from its URL).');
  }
  const databases: Record<string, string | DatabaseObject> = { default: { url, role: 'primary' } };
  for (let i = 1; i <= n; i++) {
    // The same server under two aliases is refused as a mistake unless marked as meant.
    const replica: DatabaseObject & { [SAME_SERVER]: true } = postgres
      ? { url, role: 'replica', driverOptions: { options: '-c default_transaction_read_only=on' }, [SAME_SERVER]: true }
      : { url: options.replicaUrl!, role: 'replica', [SAME_SERVER]: true };
    databases[`replica${i}`] = replica;
  }
  // Every alias is one server: a health monitor would see several primaries (split brain).
  return { databases, health: false };
}

/** The part of a local cluster (`dbrouter/cluster`) that {@link withReplicaLag} uses. */
export interface LaggableCluster {
  /** The aliases whose replay is delayed. */
  readonly replicaAliases: readonly string[];
  /**
   * Delays replay on replica `alias` by `delayMillis` milliseconds (0 removes the delay). A local
   * cluster rejects a negative or non-finite delay with `CONFIG_INVALID`, and an alias that is not a
   * running replica with a `DbRouterError`.
   */
  setDelay(alias: string, delayMillis: number): Promise<void>;
}

/**
 * Runs `fn` while every replica of a local test cluster applies changes `millis` late (PostgreSQL
 * `recovery_min_apply_delay`; MariaDB `MASTER_DELAY`, whole seconds), then removes the delay, also
 * when `fn` fails. Real lag, so a test sees what a user would.
 *
 * @example
 *   await withReplicaLag(localCluster, 500, async () => { await signUp(); await expectProfileVisible(); });
 */
export async function withReplicaLag<R>(cluster: LaggableCluster, millis: number, fn: () => R | Promise<R>): Promise<Awaited<R>> {
  if (!(Number.isFinite(millis) && millis >= 0)) throw new DbRouterError('CONFIG_INVALID', `withReplicaLag(): millis must be 0 or more, not ${String(millis)}.`);
  for (const alias of cluster.replicaAliases) await cluster.setDelay(alias, millis);
  try {
    return await fn();
  } finally {
    for (const alias of cluster.replicaAliases) await cluster.setDelay(alias, 0);
  }
}
