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
