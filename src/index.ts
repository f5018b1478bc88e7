/**
 * `dbrouter`: the cluster (`createCluster`), its routers (`primaryReplica`, `byTable`,
 * `multiPrimary`, …), scopes, health (`watchCluster`), consistency levels, and the one error
 * family (`DbRouterError`). Pools come from the engine entry points: `dbrouter/pg`, `dbrouter/mysql`.
 *
 * @example
 *   import { createCluster } from 'dbrouter';
 *   const cluster = createCluster({ databases: { default: process.env.DATABASE_URL!, replica1: process.env.REPLICA_URL! } });
 *
 * @module
 */
export { DbRouterError, isDbRouterError } from './errors.js';
export type { ErrorCode } from './errors.js';

export { Cluster, createCluster } from './cluster/cluster.js';
export type { MigrationTarget, NodeDescription, ScopeTarget } from './cluster/cluster.js';
export type { ClusterConfig, DatabaseObject, DatabaseSetting } from './cluster/config.js';
export type { WriteEvent, WriteHook } from './routing/contracts.js';
export type { BoundedStaleness, ConsistencyLevel, ConsistencyOptions } from './consistency/levels.js';
export type { ConsistencyStats } from './consistency/consistency.js';
export type { TokenRejection } from './consistency/token.js';
export type { AliasStats, QueryLogEntry, RouteEvent, StatsSnapshot } from './cluster/stats.js';

export { byTable, type TableRouter } from './routing/by-table.js';
export { multiPrimary } from './routing/multi-primary.js';
export { primaryReplica, type PrimaryReplicaOptions } from './routing/primary-replica.js';
export { randomIncludingPrimary } from './routing/random-including-primary.js';
export type { Hints, MigrateContext, NodeInfo, ReplicaStrategy, Role, RouteContext, Router, RoutingView } from './routing/router.js';
export type { RouteDecision } from './routing/decide.js';
export type { SqlCommentContext, SqlCommentFunction, SqlCommentTags } from './routing/sql-comment.js';
export { usePrimary, useReplica, type DecoratedMethod, type ScopeHandle } from './routing/scopes.js';
export type { NodeState, ReadGate } from './routing/topology.js';

export type { ConnectionOptions, Engine, EngineName, HasInternals, PoolOptions } from './routing/contracts.js';
export type { PositionKind, ReplicationPositions, RowsFn } from './routing/positions.js';
// The engines' pools live in `dbrouter/pg` and `dbrouter/mysql`: this entry must not pull in the
// types of a driver the application does not use (a pg-only project has no mysql2, and the other
// way round), so a project type-checks with `skipLibCheck: false`.

export { watchCluster, ClusterHealth, type ClusterHealthOptions, type WatchedCluster } from './health/cluster-health.js';
export { HealthMonitor } from './health/monitor.js';
export type {
  HealthMonitorOptions, HealthMonitorEvents, HealthStatus, NodeHealth, NodeProblem, NodeDownEvent, NodeUpEvent,
  LaggingEvent, CaughtUpEvent, PrimaryChangedEvent, PrimaryLostEvent, SplitBrainEvent, ProblemEvent, CheckEvent,
} from './health/monitor.js';
export type { MonitoredNode, NodeProbe, ProbeResult, Prober } from './engines/probe.js';
export type { FailoverHooks } from './health/failover-hooks.js';
export type { Clock, TimerHandle } from './health/clock.js';
