// The engine contract lives with the routing core's seams (an engine plugs into them); these
// helpers are what the engines share.
export type { ConnectionOptions, Engine, EngineName, PoolOptions } from '../routing/contracts.js';
export type { Role } from '../routing/router.js';

/** `code` of an error object, when it has one. */
export function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

/** `errno` of an error object, when it has one. */
export function errorNumber(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { errno?: unknown }).errno : undefined;
}
