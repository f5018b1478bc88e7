// The members mysql2's typings declare on its Pool and PoolConnection types (callback and promise),
// for the run-time checks of the routed counterparts (test/unit/mysql-typed-surface.test.ts and
// test/integration/mysql-driver-fidelity.test.ts). `npm run typecheck` keeps each list equal to
// the installed typings: a name mysql2 adds or drops fails to compile here.
import type { EventEmitter } from 'node:events';
import type * as mysql from 'mysql2';
import type * as mysqlPromise from 'mysql2/promise';

/** A type's string-named members, without EventEmitter's. */
type Named<T> = Exclude<keyof T, keyof EventEmitter | symbol>;
/** `true` only when the list names every member of `T` (the `satisfies` below rules out extra names). */
type Complete<L extends readonly string[], T> = [Exclude<Named<T>, L[number]>] extends [never] ? true : Exclude<Named<T>, L[number]>;

export const CORE_POOL = ['getConnection', 'releaseConnection', 'end', 'unprepare', 'escape', 'escapeId', 'format', 'promise', 'config', 'query', 'execute'] as const satisfies readonly Named<mysql.Pool>[];

export const PROMISE_POOL = [
  'getConnection', 'releaseConnection', 'end', 'pool', 'config', 'threadId', 'state', 'connect', 'ping', 'reset', 'beginTransaction', 'commit',
  'rollback', 'changeUser', 'prepare', 'unprepare', 'destroy', 'pause', 'resume', 'escape', 'escapeId', 'format', 'query', 'execute',
] as const satisfies readonly Named<mysqlPromise.Pool>[];

export const CORE_POOL_CONNECTION = [
  'connection', 'release', 'promise', 'config', 'threadId', 'authorized', 'state', 'beginTransaction', 'connect', 'commit', 'changeUser', 'end',
  'destroy', 'pause', 'resume', 'escape', 'escapeId', 'format', 'rollback', 'prepare', 'unprepare', 'serverHandshake', 'ping', 'reset',
  'writeOk', 'writeError', 'writeEof', 'writeTextResult', 'writePacket', 'sequenceId', 'query', 'execute',
] as const satisfies readonly Named<mysql.PoolConnection>[];

export const PROMISE_POOL_CONNECTION = [
  'release', 'connection', 'config', 'threadId', 'state', 'connect', 'ping', 'reset', 'beginTransaction', 'commit', 'rollback', 'changeUser',
  'prepare', 'unprepare', 'end', 'destroy', 'pause', 'resume', 'escape', 'escapeId', 'format', 'query', 'execute',
] as const satisfies readonly Named<mysqlPromise.PoolConnection>[];

export const COMPLETE: [
  Complete<typeof CORE_POOL, mysql.Pool>,
  Complete<typeof PROMISE_POOL, mysqlPromise.Pool>,
  Complete<typeof CORE_POOL_CONNECTION, mysql.PoolConnection>,
  Complete<typeof PROMISE_POOL_CONNECTION, mysqlPromise.PoolConnection>,
] = [true, true, true, true];
