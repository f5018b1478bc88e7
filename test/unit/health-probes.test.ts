// What the engine probes make of the servers' answers (the queries themselves run in the
// integration tests on real clusters).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postgresProbeResult, type CheckRow } from '../../src/engines/postgres/probe.js';
import { gtidDistance, gtidReached, mysqlProbeResult, type ReplicaStatusRow } from '../../src/engines/mysql/probe.js';

const pgRow = (over: Partial<CheckRow>): CheckRow => ({
  recovery: true, current_lsn: null, receive_lsn: '0/3000100', replay_lsn: '0/3000100', since_replay_ms: 5000,
  pause_state: 'not paused', sender_host: '/tmp/sock', sender_port: 5432, receiver_pid: 4242, receiver_status: 'streaming', ...over,
});

test('postgres: a primary reports its current LSN and no lag', () => {
  const r = postgresProbeResult(pgRow({ recovery: false, current_lsn: '0/5000000', receive_lsn: null, replay_lsn: null, since_replay_ms: null, sender_host: null }), 1);
  assert.equal(r.role, 'primary');
  assert.equal(r.position, '0/5000000');
  assert.equal(r.lagMillis, 0);
  assert.equal(r.upstream, undefined);
});

test('postgres: everything received is replayed → 0 lag, however old the last transaction', () => {
  const r = postgresProbeResult(pgRow({}), 1);
  assert.equal(r.lagMillis, 0);
  assert.equal(r.lagBytes, 0);
  assert.equal(r.upstream, '/tmp/sock:5432');
});

test('postgres: a standby that streams from no one has stopped replicating (everything received applied says nothing then)', () => {
  const none = postgresProbeResult(pgRow({ receiver_pid: null, receiver_status: null, sender_host: null, sender_port: null }), 1);
  assert.match(none.notStreaming ?? '', /no WAL receiver runs/);
  const waiting = postgresProbeResult(pgRow({ receiver_status: 'waiting' }), 1);
  assert.match(waiting.notStreaming ?? '', /waiting, not streaming/);
  assert.equal(postgresProbeResult(pgRow({ receiver_status: null }), 1).notStreaming, undefined, 'a receiver runs, its state hidden from this user: replicating');
  assert.equal(postgresProbeResult(pgRow({}), 1).notStreaming, undefined);
});

test('postgres: WAL waiting to be replayed → lag is the age of the last replayed transaction; paused is reported', () => {
  const r = postgresProbeResult(pgRow({ receive_lsn: '0/3000200', pause_state: 'paused' }), 1);
  assert.equal(r.lagMillis, 5000);
  assert.equal(r.lagBytes, 0x100);
  assert.equal(r.paused, true);
  const unknown = postgresProbeResult(pgRow({ receive_lsn: '0/3000200', since_replay_ms: null }), 1);
  assert.equal(unknown.lagMillis, undefined, 'nothing replayed since start: unknown, not 0');
});

const status = (over: Partial<ReplicaStatusRow>): ReplicaStatusRow => ({
  Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Seconds_Behind_Master: 0, Master_Host: '127.0.0.1', Master_Port: 3306, Gtid_IO_Pos: '0-1-10', ...over,
});
const vars = (ro: number, pos = '0-1-10') => ({ ro, binlog_pos: pos, replica_pos: pos });

test('mariadb: roles from read_only and the replication threads', () => {
  assert.equal(mysqlProbeResult(vars(0), undefined, false, 1).role, 'primary');
  assert.equal(mysqlProbeResult(vars(1), status({}), false, 1).role, 'replica');
  assert.equal(mysqlProbeResult(vars(0), status({}), false, 1).role, 'replica', 'writable but replicating: a replica');
  const promoted = mysqlProbeResult(vars(0), status({ Slave_IO_Running: 'No', Slave_SQL_Running: 'No' }), false, 1);
  assert.equal(promoted.role, 'primary', 'replication stopped and writable: promoted');
});

test('mariadb: Seconds_Behind_Master NULL with the SQL thread stopped is unknown lag, never 0', () => {
  const r = mysqlProbeResult(vars(1, '0-1-7'), status({ Slave_SQL_Running: 'No', Seconds_Behind_Master: null }), false, 1);
  assert.equal(r.lagMillis, undefined);
  assert.equal(r.paused, true);
  assert.equal(r.lagTransactions, 3);
  assert.equal(r.upstream, '127.0.0.1:3306');
  assert.equal(mysqlProbeResult(vars(1), status({ Seconds_Behind_Master: 4 }), false, 1).lagMillis, 4000);
});

test('mariadb: IO thread down with everything applied is 0 behind the stream; with relay left, unknown', () => {
  assert.equal(mysqlProbeResult(vars(1, '0-1-10'), status({ Slave_IO_Running: 'Connecting', Seconds_Behind_Master: null }), false, 1).lagMillis, 0);
  assert.equal(mysqlProbeResult(vars(1, '0-1-8'), status({ Slave_IO_Running: 'Connecting', Seconds_Behind_Master: null }), false, 1).lagMillis, undefined);
});

test('mariadb: without SHOW SLAVE STATUS privilege the result says so', () => {
  const r = mysqlProbeResult(vars(1), undefined, true, 1);
  assert.equal(r.role, 'replica');
  assert.equal(r.lagMillis, 0);
  assert.match(r.limited ?? '', /SLAVE MONITOR/);
});

test('GTID distances and order, MariaDB positions and MySQL sets', () => {
  assert.equal(gtidDistance('0-1-40', '0-1-42,1-2-3'), 5);
  assert.equal(gtidDistance('0-1-50', '0-1-42'), 0);
  assert.equal(gtidReached('0-2-43', '0-1-42'), true);
  const u = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
  assert.equal(gtidDistance(`${u}:1-5`, `${u}:1-9`), 4);
  assert.equal(gtidDistance(`${u}:1-5:8`, `${u}:1-9`), 3);
  assert.equal(gtidDistance(`${u}:1-9`, `${u}:1-9`), 0);
  assert.equal(gtidReached(`${u}:1-9`, `${u}:1-5`), true);
  assert.equal(gtidReached(`${u}:1-4`, `${u}:1-5`), false);
  assert.equal(gtidDistance('garbage', '0-1-1'), undefined);
});

test('issue 9.1: mariadb replication stopped (IO thread No, error 1236, SQL error) versus paused or reconnecting', () => {
  const r1236 = mysqlProbeResult(vars(1), status({ Slave_IO_Running: 'No', Last_IO_Errno: 1236, Last_IO_Error: 'Got fatal error 1236 from master' }), false, 1);
  assert.match(r1236.replicationStopped ?? '', /error 1236: Got fatal error 1236/);
  assert.match(mysqlProbeResult(vars(1), status({ Slave_IO_Running: 'No' }), false, 1).replicationStopped ?? '', /IO\) thread is stopped/);
  assert.match(mysqlProbeResult(vars(1), status({ Slave_SQL_Running: 'No', Last_SQL_Errno: 1062 }), false, 1).replicationStopped ?? '', /SQL\) thread stopped with error 1062/);
  assert.equal(mysqlProbeResult(vars(1), status({ Slave_SQL_Running: 'No' }), false, 1).replicationStopped, undefined, 'a paused SQL thread is a pause');
  assert.equal(mysqlProbeResult(vars(1), status({ Slave_IO_Running: 'Connecting', Last_IO_Errno: 2003 }), false, 1).replicationStopped, undefined, 'still retrying its primary');
  const held = mysqlProbeResult({ ro: 1, binlog_pos: '0-1-10,0-3-11', replica_pos: '0-1-10' }, status({}), false, 1).heldPositions;
  assert.deepEqual(held, ['0-1-10', '0-1-10,0-3-11'], 'its own binlog too, where a write made on it lands');
});
