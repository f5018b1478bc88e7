import type { ClusterState, NodeState } from './state.js';
import type { Engine, NodeStatus } from './types.js';

/** The engine-specific part of a node's status. */
export type EngineNodeStatus = Pick<NodeStatus, 'position' | 'replicating' | 'paused' | 'lagBytes' | 'lagMillis'>;

/**
 * What differs between PostgreSQL and MariaDB clusters. The cluster logic (ports, state, process
 * lifecycle, roles, errors) lives once in `local-cluster.ts` and calls these.
 */
export interface EngineDriver {
  readonly engine: Engine;
  /** Binaries dir and version; throws `BINARIES_MISSING`. */
  findBinaries(): Promise<{ binDir: string; version: string }>;
  /** A cached, never-started data dir to clone (built once per machine). */
  template(state: ClusterState): Promise<string>;
  /** Node-specific configuration of a freshly cloned data dir. */
  configureNode(state: ClusterState, node: NodeState, primary: NodeState): Promise<void>;
  /** Program and arguments that run the node in its current role. */
  command(state: ClusterState, node: NodeState): { command: string; args: string[] };
  /** `crash`: stop immediately (as a crash); `clean`: orderly shutdown. */
  stopSignal(mode: 'crash' | 'clean'): NodeJS.Signals;
  /** True once the node accepts admin connections. */
  isReady(state: ClusterState, node: NodeState): Promise<boolean>;
  /** One-time setup once every node of a new cluster is ready (users, replication). */
  initialize(state: ClusterState): Promise<void>;
  url(state: ClusterState, node: NodeState): string;
  primaryPosition(state: ClusterState, primary: NodeState): Promise<string>;
  /** Polls until `node` has replayed `position`; false on timeout. */
  waitForReplay(state: ClusterState, node: NodeState, position: string, timeoutMillis: number, signal?: AbortSignal): Promise<boolean>;
  isReplicating(state: ClusterState, node: NodeState): Promise<boolean>;
  pause(state: ClusterState, node: NodeState): Promise<void>;
  resume(state: ClusterState, node: NodeState): Promise<void>;
  setDelay(state: ClusterState, node: NodeState, delayMillis: number): Promise<void>;
  /** Makes a running replica writable; returns once it is. */
  promote(state: ClusterState, node: NodeState): Promise<void>;
  /** Points a running replica at `primary`. */
  follow(state: ClusterState, node: NodeState, primary: NodeState): Promise<void>;
  /** Before a stopped node starts (re-point a replica's config, rewind a former primary). */
  prepareStart(state: ClusterState, node: NodeState, primary: NodeState | null): Promise<void>;
  /** After a restarted node is ready (MariaDB starts its replication threads here). */
  afterStart(state: ClusterState, node: NodeState, primary: NodeState | null): Promise<void>;
  status(state: ClusterState, node: NodeState, primaryPosition: string | null): Promise<EngineNodeStatus>;
  /**
   * After a former primary started and was pointed at `primary`: true when it holds transactions
   * the new primary lacks and so cannot follow. Engines that rebuild before starting (PostgreSQL:
   * pg_rewind or pg_basebackup in `prepareStart`) leave it out.
   */
  mustRebuild?(state: ClusterState, node: NodeState, primary: NodeState): Promise<boolean>;
  /** Fills a fresh (templated, configured, running) node with a copy of `primary` and follows it. */
  rebuild?(state: ClusterState, node: NodeState, primary: NodeState): Promise<void>;
}
