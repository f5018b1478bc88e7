/**
 * The replication-position contract: what an engine provides (one `ReplicationPositions` per
 * cluster) and the consistency and health layers read. Types only, so it sits with the routing
 * core's other seams, below the engines that implement it.
 */

/** How an engine's positions compare: a PostgreSQL LSN, a MariaDB GTID position, a MySQL GTID set. */
export type PositionKind = 'postgres' | 'mariadb' | 'mysql';

/** Runs one plain statement on one node (a routed pool's own pool for it), rows as objects. */
export type RowsFn = (sql: string) => Promise<readonly Record<string, unknown>[]>;

/**
 * How one engine reads and waits on replication positions, for the consistency layer. One
 * instance per cluster: MySQL and MariaDB share an engine and differ here, found on first use.
 */
export interface ReplicationPositions {
  /** How positions compare (`reached`, `later`); `mariadb` until a MySQL server says otherwise. */
  readonly kind: PositionKind;
  /** The primary's position now: every commit acknowledged so far is at or before it. */
  primary(run: RowsFn): Promise<string | undefined>;
  /** What a replica has applied; `undefined` when it cannot say (a primary, replication off). */
  replayed(run: RowsFn): Promise<string | undefined>;
  /**
   * Waits on the replica for `position` up to `timeoutMillis` in the server (MariaDB
   * `MASTER_GTID_WAIT`, MySQL `WAIT_FOR_EXECUTED_GTID_SET`); `undefined` when the engine has no
   * such wait (PostgreSQL: poll `replayed`).
   */
  waitFor?(run: RowsFn, position: string, timeoutMillis: number): Promise<boolean>;
  /** Whether the primary has synchronous replicas that apply before a commit returns. */
  synchronousReplicas(run: RowsFn): Promise<boolean>;
  /**
   * Returns once the synchronous replicas have applied everything committed so far on this
   * primary (PostgreSQL: a marker transaction committed with `synchronous_commit = remote_apply`);
   * false when they did not within `timeoutMillis` (the wait is then cancelled through `admin`, a
   * connection of its own to the same primary).
   */
  awaitSynchronousApply(run: RowsFn, timeoutMillis: number, admin: RowsFn): Promise<boolean>;
}
