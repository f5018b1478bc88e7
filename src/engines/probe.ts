import type { Role } from '../routing/router.js';

/**
 * The contract between the health monitor and an engine: how one node is checked, and how two
 * replication positions of that engine compare. The monitor never branches on the engine; each
 * engine folder implements a `Prober` (`src/engines/postgres/probe.ts`, `src/engines/mysql/probe.ts`).
 * It sits with the engines, below the health layer that uses it, so that no engine imports health/.
 *
 * @example
 *   const prober: Prober = postgresProber({ connections: { main: {...}, r1: {...} } })
 *   const result = await prober.forNode({ alias: 'r1', configuredRole: 'replica' }).check(signal)
 */

export type { Role };

/** A node as the monitor sees it: a name, the role the configuration gives it, where it listens. */
export interface MonitoredNode {
  /** The node's alias, as in the cluster's `databases`. */
  readonly alias: string;
  /** The role the configuration gives it (or the server reported at start). */
  readonly configuredRole: Role;
  /** `host:port`, to compare with the upstream a replica reports. Optional. */
  readonly address?: string;
}

/** One successful check of one node, as the engine reports it. */
export interface ProbeResult {
  /** The role the server itself reports (`pg_is_in_recovery()`, `@@read_only` + replica status). */
  readonly role: Role;
  /** Primary: its current write position. Replica: the position it has received. */
  readonly position: string | undefined;
  /** Primary: its current write position. Replica: the position it has applied (visible to reads). */
  readonly replayPosition: string | undefined;
  /**
   * How far, in time, the replica's visible data is behind, by the engine's own measure: 0 for a
   * primary, `undefined` when the engine cannot tell (for example MariaDB with its SQL thread
   * stopped). The monitor treats `undefined` as beyond any bound, never as "no lag".
   */
  readonly lagMillis: number | undefined;
  /** PostgreSQL: WAL received but not yet replayed, in bytes. */
  readonly lagBytes?: number | undefined;
  /** MariaDB: transactions received but not yet applied. */
  readonly lagTransactions?: number | undefined;
  /** The primary this replica streams from, `host:port`, when the engine says. */
  readonly upstream: string | undefined;
  /** Replay (PostgreSQL) or the SQL thread (MariaDB) is stopped on purpose or by an error. */
  readonly paused: boolean;
  /**
   * Set when the replica's replication has stopped other than by a pause of replay: its receiving
   * thread stopped or either thread failed (MariaDB/MySQL `Slave_IO_Running: No`, `Last_IO_Errno`
   * 1236, `Last_SQL_Errno`). Says what stopped and why. Such a replica leaves the reads.
   */
  readonly replicationStopped?: string;
  /**
   * Set when the replica streams from no one (PostgreSQL: no WAL receiver, or one not streaming).
   * While the cluster has an available primary, such a replica leaves the reads like a stopped
   * one: what it has may be a history the primary does not share (a former primary not yet
   * rewound). Without a primary (it died, none promoted yet) every replica is in that state and
   * they keep serving.
   */
  readonly notStreaming?: string;
  /**
   * Every position the replica holds transactions up to, when more than `replayPosition` (MariaDB:
   * its own binlog position too, where a transaction written on the replica itself lands). The
   * monitor compares each with the primary's position: a replica holding what the primary lacks
   * has diverged.
   */
  readonly heldPositions?: readonly string[];
  /** Set when the check could not see everything it should (missing privileges): says what and how to fix it. */
  readonly limited?: string;
  /** Round trip of the check's query itself, without connecting. */
  readonly rttMillis?: number;
}

/**
 * A dedicated monitoring connection to one node: never a connection of the application's pool,
 * so a saturated pool cannot make a healthy node look dead, and a dead node cannot hold an
 * application connection.
 */
export interface NodeProbe {
  /**
   * One check. Rejects when the node cannot be reached or does not answer. When `signal` aborts
   * (the monitor's `checkTimeoutMillis` ran out) the probe drops its connection at once and the next
   * check connects again.
   */
  check(signal: AbortSignal): Promise<ProbeResult>;
  /** Closes the connection. Idempotent. */
  close(): Promise<void>;
}

/** An engine's probes and its order of replication positions. */
export interface Prober {
  /** The unit of `distance`: WAL bytes (PostgreSQL) or transactions (MariaDB GTIDs). */
  readonly positionUnit: 'bytes' | 'transactions';
  /** A probe for one node. Connecting is lazy: it happens on the first check. */
  forNode(node: MonitoredNode): NodeProbe;
  /** Has a node at `have` applied everything up to `want`? False when it cannot tell. */
  reached(have: string, want: string): boolean;
  /** How far `have` is behind `want` (0 when caught up), `undefined` when it cannot tell. */
  distance(have: string, want: string): number | undefined;
  /**
   * Does a replica at `replica` hold transactions a primary at `primary` (read after it) lacks?
   * False when it cannot tell. Optional: without it the monitor never reports `diverged`.
   */
  holdsMore?(replica: string, primary: string): boolean;
}
