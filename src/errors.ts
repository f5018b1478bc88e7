/**
 * The one error family of dbrouter. Every error has a stable `code`, an optional `cause`, and a
 * message that says what was misused or what state the system is in, and what to do.
 * Messages never carry a credential or a query parameter.
 *
 * @example
 *   try { await pool.query(sql) } catch (e) { if (e instanceof DbRouterError && e.code === 'PRIMARY_UNAVAILABLE') ... }
 */
export type ErrorCode =
  // configuration
  | 'CONFIG_INVALID'
  // local clusters
  | 'BINARIES_MISSING'
  | 'PORT_IN_USE'
  | 'CLUSTER_EXISTS'
  | 'CLUSTER_NOT_FOUND'
  | 'CLUSTER_START_FAILED'
  | 'UNKNOWN_ALIAS'
  | 'NOT_A_REPLICA'
  | 'REPLICA_CATCH_UP_TIMEOUT'
  | 'NODE_DOWN'
  // routing
  | 'ROUTER_ERROR'
  | 'CROSS_DATABASE_RELATION'
  | 'MIGRATE_REFUSED'
  | 'POOL_ENDED'
  | 'CLIENT_RELEASED'
  | 'SCOPE_INVALID'
  | 'NOT_READY'
  | 'DRIVER_MISSING'
  | 'ENGINE_MISMATCH'
  | 'UNSUPPORTED'
  | 'READ_ONLY'
  // consistency
  | 'TOKEN_INVALID'
  | 'SECRET_MISSING'
  | 'SYNC_UNAVAILABLE'
  | 'SYNC_TIMEOUT'
  // health
  | 'PRIMARY_UNAVAILABLE'
  | 'SPLIT_BRAIN'
  // a node died under a statement
  | 'WRITE_OUTCOME_UNKNOWN'
  | 'TRANSACTION_LOST'
  | 'CONNECTION_LOST'
  // CLI
  | 'USAGE';

export class DbRouterError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DbRouterError';
    this.code = code;
  }
}

export function isDbRouterError(e: unknown, code?: ErrorCode): e is DbRouterError {
  return e instanceof DbRouterError && (code === undefined || e.code === code);
}
