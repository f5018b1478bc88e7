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

/**
 * The error dbrouter throws or rejects with, for every failure that is its own (a driver's error
 * that dbrouter only passes on stays the driver's). `name` is `'DbRouterError'`; `code` says which
 * failure it is and is stable across versions, so test it rather than the message; `cause` holds
 * the driver's error where there was one.
 *
 * @example
 *   try {
 *     await pool.query('UPDATE accounts SET balance = balance - 10 WHERE id = 1');
 *   } catch (e) {
 *     if (e instanceof DbRouterError && e.code === 'WRITE_OUTCOME_UNKNOWN') await checkTheTransfer();
 *     else throw e;
 *   }
 */
export class DbRouterError extends Error {
  /** Which failure this is: one of {@link ErrorCode}. */
  readonly code: ErrorCode;

  /** `message` must name what was misused or what state the system is in, and never a credential or a query parameter. */
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DbRouterError';
    this.code = code;
  }
}

/**
 * Whether `e` is a {@link DbRouterError}, and of `code` when one is given; narrows the type.
 *
 * @example
 *   if (isDbRouterError(err, 'PRIMARY_UNAVAILABLE')) res.status(503).end();
 */
export function isDbRouterError(e: unknown, code?: ErrorCode): e is DbRouterError {
  return e instanceof DbRouterError && (code === undefined || e.code === code);
}
