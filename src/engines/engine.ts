import { DbRouterError } from '../errors.js';

// The engine contract lives with the routing core's seams (an engine plugs into them); these
// helpers are what the engines share.
export type { ConnectionOptions, Engine, EngineName, PoolOptions } from '../routing/contracts.js';
export type { Role } from '../routing/router.js';

/** `code` of an error object, when it has one. */
export function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

/** Socket errors that only happen before a connection exists: nothing was sent on it. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/**
 * The engine-independent half of `neverSent`: Node's socket errors raised while connecting (a
 * `connect` or DNS `getaddrinfo` syscall, e.g. ETIMEDOUT while connecting; not a reset of an open
 * connection, which may have cut a statement the server ran).
 */
export function failedToConnect(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, syscall } = err as { code?: unknown; syscall?: unknown };
  return (typeof code === 'string' && NOT_CONNECTED.has(code)) || syscall === 'connect' || syscall === 'getaddrinfo';
}

/** `errno` of an error object, when it has one. */
export function errorNumber(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { errno?: unknown }).errno : undefined;
}

const CUT = Symbol('dbrouter.cutForDownNode');

/**
 * The error dbrouter destroys a down node's connection with (see `CLOSE_NODE_CONNECTIONS`): the
 * drivers pass it as is to the statement in flight on that connection, which the engines count as
 * a connection error that may have run (the statement was sent; the answer never came).
 */
export function cutForDownNode(alias: string, reason: string): DbRouterError {
  const err = new DbRouterError(
    'NODE_DOWN',
    `dbrouter closed this connection to "${alias}": the node failed its health checks (${reason}), so a statement in flight on it would have waited for TCP to give up.`,
  );
  Object.defineProperty(err, CUT, { value: true });
  return err;
}

/** True for an error made by {@link cutForDownNode}. */
export function isCutForDownNode(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { [CUT]?: boolean })[CUT] === true;
}
