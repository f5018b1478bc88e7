// The write's own GTID from a mysql2 result: taken only from one statement's OK packet that reports
// `last_gtid`; anything else says nothing (the consistency layer then asks the primary).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ownWritePosition, trackLastGtid } from '../../src/engines/mysql/positions.js';

const header = (systemVariables?: Record<string, unknown>) => ({
  fieldCount: 0, affectedRows: 1, insertId: 0, info: '', serverStatus: 2, warningStatus: 0, changedRows: 0,
  ...(systemVariables === undefined ? {} : { stateChanges: { systemVariables, schema: null, gtids: [], trackStateChange: null } }),
});

test('one statement that committed: its GTID', () => {
  assert.equal(ownWritePosition(header({ last_gtid: '0-1-123' })), '0-1-123');
  assert.equal(ownWritePosition(header({ autocommit: 'ON', last_gtid: '2-7-9' })), '2-7-9');
});

test('a transaction left open by the statement (autocommit off): no position, whatever is reported', () => {
  assert.equal(ownWritePosition({ ...header({ last_gtid: '0-1-5' }), serverStatus: 1 }), undefined);
  assert.equal(ownWritePosition({ ...header({ last_gtid: '0-1-5' }), serverStatus: 16384 }), '0-1-5', 'COMMIT: session state changed, no transaction');
  const { serverStatus: _, ...noStatus } = header({ last_gtid: '0-1-5' });
  assert.equal(ownWritePosition(noStatus), undefined, 'no status: cannot tell');
});

test('nothing reported, or not one GTID: no position', () => {
  assert.equal(ownWritePosition(header()), undefined, 'a write that changed nothing, tracking off, MySQL');
  assert.equal(ownWritePosition(header({ autocommit: 'OFF' })), undefined, 'another variable');
  assert.equal(ownWritePosition(header({ last_gtid: '' })), undefined);
  assert.equal(ownWritePosition(header({ last_gtid: '0-1-1,1-1-1' })), undefined, 'a list is no single GTID');
  assert.equal(ownWritePosition(header({ last_gtid: 7 })), undefined);
  assert.equal(ownWritePosition([header({ last_gtid: '0-1-1' }), header()]), undefined, 'several statements at once');
  assert.equal(ownWritePosition([{ a: 1 }]), undefined, 'rows');
  assert.equal(ownWritePosition(undefined), undefined);
  assert.equal(ownWritePosition(null), undefined);
});

test('tracking is asked for on MariaDB connections only', () => {
  const sent: string[] = [];
  const conn = (serverVersion?: string) => ({
    ...(serverVersion === undefined ? {} : { _handshakePacket: { serverVersion } }),
    query: (sql: string, cb: (err: Error | null) => void) => {
      sent.push(sql);
      cb(null);
    },
  });
  trackLastGtid(conn('5.5.5-10.11.6-MariaDB-log'));
  assert.equal(sent.length, 1);
  assert.match(sent[0]!, /session_track_system_variables/);
  trackLastGtid(conn('8.0.36'));
  trackLastGtid(conn());
  assert.equal(sent.length, 1, 'not MySQL, not a connection that does not say');
});
