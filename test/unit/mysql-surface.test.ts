// Issue 10's surface test: every method and property mysql2's Pool, PoolConnection and Query
// define on their prototypes (listed from the installed driver, callback and promise classes)
// exists on the routed counterpart, or is one of the deliberate omissions below (documented in
// docs/orms.md). A new mysql2 release that adds a method fails here until it is answered.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { RoutedMysqlCallbackPool, RoutedMysqlConnection, RoutedMysqlPool, RoutedMysqlStandaloneConnection, RoutedQuery } from '../../src/engines/mysql/index.js';

const require = createRequire(import.meta.url);
type Ctor = abstract new (...args: never[]) => unknown;
const mysql = require('mysql2') as { Pool: Ctor; PoolConnection: Ctor; createQuery(sql: string, values: unknown, cb: () => void, config: object): object };
const promise = require('mysql2/promise') as { PromisePool: Ctor; PromisePoolConnection: Ctor };

/** Routed connections have no single physical connection: these act on one, or are the server/protocol side of mysql2. */
const CONNECTION_OMISSIONS = new Set([
  'prepare', 'changeUser', 'reset', 'createBinlogStream',
  'write', 'writePacket', 'startTLS', 'protocolError', 'fatalError', 'handlePacket', 'addCommand', 'serverHandshake',
  'writeColumns', 'writeTextRow', 'writeBinaryRow', 'writeTextResult', 'writeEof', 'writeOk', 'writeError',
]);
/** mysql2's protocol state machine of a query (packet handlers): a routed query forwards events instead. */
const QUERY_OMISSIONS = new Set(['start', 'done', 'doneInsert', 'resultsetHeader', 'readField', 'fieldsEOF', 'row', 'infileOk', 'stateName', 'execute']);

/** Own names of every prototype up to EventEmitter; underscore names are mysql2's internals by its own convention. */
function surface(c: Ctor): string[] {
  const out = new Set<string>();
  for (let p = c.prototype as object | null; p !== null && p !== Object.prototype && p !== EventEmitter.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const n of Object.getOwnPropertyNames(p)) if (n !== 'constructor' && !n.startsWith('_')) out.add(n);
  }
  return [...out].sort();
}

function missing(driver: Ctor, routed: Ctor, omitted: ReadonlySet<string> = new Set()): string[] {
  const have = new Set(surface(routed));
  return surface(driver).filter((n) => !have.has(n) && !omitted.has(n));
}

test('mysql2 Pool and mysql2/promise Pool → RoutedMysqlPool; Pool → its callback face', () => {
  assert.ok(surface(mysql.Pool).length > 8, 'the installed mysql2 Pool was listed');
  assert.deepEqual(missing(mysql.Pool, RoutedMysqlPool), []);
  assert.deepEqual(missing(promise.PromisePool, RoutedMysqlPool), []);
  assert.deepEqual(missing(mysql.Pool, RoutedMysqlCallbackPool), []);
});

test('mysql2 PoolConnection and mysql2/promise PoolConnection → RoutedMysqlConnection (and the driver module connection)', () => {
  assert.ok(surface(mysql.PoolConnection).length > 30);
  for (const routed of [RoutedMysqlConnection, RoutedMysqlStandaloneConnection]) {
    assert.deepEqual(missing(mysql.PoolConnection, routed, CONNECTION_OMISSIONS), []);
    assert.deepEqual(missing(promise.PromisePoolConnection, routed, CONNECTION_OMISSIONS), []);
  }
  // The omissions are real mysql2 names (a rename in mysql2 shows here).
  const all = new Set([...surface(mysql.PoolConnection), ...surface(promise.PromisePoolConnection)]);
  for (const n of CONNECTION_OMISSIONS) assert.ok(all.has(n), n);
});

test('mysql2 Query → RoutedQuery', () => {
  const Query = mysql.createQuery('SELECT 1', [], () => {}, {}).constructor as Ctor;
  assert.ok(surface(Query).includes('stream'));
  assert.deepEqual(missing(Query, RoutedQuery, QUERY_OMISSIONS), []);
  for (const n of QUERY_OMISSIONS) assert.ok(surface(Query).includes(n), n);
});
