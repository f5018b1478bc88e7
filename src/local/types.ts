/** The database engines a local cluster can run. */
export type Engine = 'postgres' | 'mariadb';

/** What a node currently is. Aliases name nodes; roles move with `promote`. */
export type NodeRole = 'primary' | 'replica';

/** Where PostgreSQL binaries come from: `auto` tries the machine first, then the npm package. */
export type PostgresSource = 'auto' | 'system' | 'embedded';

/**
 * Options of {@link startCluster}.
 *
 * @example
 *   const cluster = await startCluster({ engine: 'postgres', replicas: 2, dir: './.dbrouter/pg' });
 */
export interface StartClusterOptions {
  /** `postgres` (streaming replication) or `mariadb` (GTID replication). */
  engine: Engine;
  /** Number of replicas next to the primary. Default 2. */
  replicas?: number;
  /** Directory holding the cluster's state file. Default `./.dbrouter/cluster-<engine>`. */
  dir?: string;
  /**
   * First TCP port (primary); replica i gets `basePort + i`. Every port must be free, or the start
   * fails with `PORT_IN_USE`. Default: a free block below the ephemeral range (32768).
   */
  basePort?: number;
  /**
   * Directory of the engine's binaries (PostgreSQL: `initdb`, `postgres`; MariaDB: `mariadbd`).
   * PostgreSQL also reads `DBROUTER_PG_BIN`, MariaDB `DBROUTER_MARIADB_BIN`.
   */
  binDir?: string;
  /** PostgreSQL only: which binaries to use when no `binDir` is given. Default `auto`. */
  postgresSource?: PostgresSource;
  /**
   * Where data directories, sockets and server logs live. Default: under `/dev/shm` (tmpfs, fast)
   * when present, else the OS temp dir, in a folder named after `dir`.
   */
  dataRoot?: string;
  /** Extra server settings for every node (PostgreSQL GUCs, MariaDB `--name=value` flags). */
  settings?: Record<string, string>;
  /**
   * Synchronous replication: PostgreSQL sets `synchronous_standby_names = 'ANY 1 (*)'`, so a commit
   * waits for one replica (and `cluster.synchronous()` can wait for it to apply). MariaDB has no
   * synchronous apply (semi-sync only acknowledges receipt): `SYNC_UNAVAILABLE`.
   */
  sync?: boolean;
  /** How long each server may take to accept connections. Default 30000. */
  startTimeoutMillis?: number;
  /** How long replicas may take to replay the primary's position during `up`. Default 30000. */
  catchUpTimeoutMillis?: number;
  /** Called with a short line for each step (the CLI prints them on a terminal). */
  onProgress?: (step: string) => void;
  /** Aborting stops the start and removes everything it created. */
  signal?: AbortSignal;
}

/** One database of a cluster as an application sees it. */
export interface ClusterDatabase {
  /** A URL for psql, `pg` or `mysql2`. */
  url: string;
  /** Its role now (it changes with `promote`). */
  role: NodeRole;
}

/** A node's state as seen by {@link LocalCluster.status}. */
export interface NodeStatus {
  /** `default` or `replica1..N`. */
  alias: string;
  /** Its role now (it changes with `promote`). */
  role: NodeRole;
  /** The loopback TCP port it listens on. */
  port: number;
  /** Server process id, `null` when the node is down. */
  pid: number | null;
  /** Its server process is running (it may still be starting and not yet accept connections). */
  up: boolean;
  /**
   * Primary: its current position. Replica: the position it has replayed.
   * PostgreSQL: an LSN such as `0/3000148`; MariaDB: a GTID list such as `0-1-12`.
   */
  position: string | null;
  /** Replica receives from its primary (PostgreSQL WAL receiver streaming / MariaDB IO thread running). */
  replicating: boolean;
  /** Replica's replay is paused (`lag pause`). */
  paused: boolean;
  /** Fixed apply delay in milliseconds (`lag --delay`), 0 when none. */
  delayMillis: number;
  /** PostgreSQL: bytes of WAL the replica has not replayed yet. `null` on MariaDB or when unknown. */
  lagBytes: number | null;
  /** Replay lag in milliseconds, `null` when unknown (node down, or MariaDB SQL thread stopped). */
  lagMillis: number | null;
}

/**
 * A running local cluster: a primary and N replicas on loopback ports, with controls for lag,
 * crashes and promotion. Aliases are `default` (the node started as primary) and `replica1..N`.
 *
 * @example
 *   const cluster = await startCluster({ engine: 'postgres' });
 *   await primaryClient.query('INSERT ...');
 *   await cluster.waitForAllReplicas();          // every replica has replayed that insert
 *   await cluster.pause('replica1');             // replica1 now lags behind on purpose
 *   await cluster.down();
 */
export interface LocalCluster {
  /** `postgres` or `mariadb`. */
  readonly engine: Engine;
  /** The cluster directory (absolute): holds `state.json`. */
  readonly dir: string;
  /** Databases by alias, with URLs and current roles. */
  readonly databases: Readonly<Record<string, ClusterDatabase>>;
  /** Alias of the current primary. */
  readonly primaryAlias: string;
  /** Aliases of the current replicas. */
  readonly replicaAliases: readonly string[];
  /** Each node's role, port, pid, up/down and replay lag. */
  status(): Promise<NodeStatus[]>;
  /** The primary's current position (PostgreSQL LSN, MariaDB `gtid_binlog_pos`). */
  primaryPosition(): Promise<string>;
  /**
   * Resolves once the replica has replayed `position` (default: the primary's current position).
   * Polls positions; rejects with `REPLICA_CATCH_UP_TIMEOUT` (with the tail of its log) on timeout.
   */
  waitForReplay(alias: string, position?: string, timeoutMillis?: number): Promise<void>;
  /** {@link waitForReplay} for every running replica. */
  waitForAllReplicas(timeoutMillis?: number): Promise<void>;
  /** Stops applying changes on a replica (it still receives them); resolves once replay is paused. */
  pause(alias: string): Promise<void>;
  /** Restarts replay on a paused replica. */
  resume(alias: string): Promise<void>;
  /** Sets a fixed apply delay on a replica; 0 removes it. MariaDB rounds up to whole seconds. */
  setDelay(alias: string, delayMillis: number): Promise<void>;
  /** Stops a node immediately, as a crash. */
  kill(alias: string): Promise<void>;
  /**
   * Starts a stopped node in its current role; a former primary rejoins as a replica. Waits up to
   * `timeoutMillis` (default 30000) for it to accept connections and, as a replica, to connect to
   * its primary.
   */
  start(alias: string, timeoutMillis?: number): Promise<void>;
  /**
   * Makes a replica the primary; every other live replica then replicates from it. A still-running
   * old primary is shut down first (no split brain); `start` it to rejoin as a replica.
   */
  promote(alias: string): Promise<void>;
  /** The server log of a node (kept until `down`). */
  log(alias: string): Promise<string>;
  /** Stops every process of the cluster and removes its data, unless `keep`. */
  down(options?: { keep?: boolean }): Promise<void>;
  /** `{ engine, dir, databases }`: what `dbrouter cluster up --json` prints. */
  toJSON(): {
    /** As {@link LocalCluster.engine}. */
    engine: Engine;
    /** As {@link LocalCluster.dir}. */
    dir: string;
    /** As {@link LocalCluster.databases}. */
    databases: Record<string, ClusterDatabase>;
  };
}
