import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gtidDistance, holdsMore, later, lsnDistance, parseLsn, readable, reached } from '../../src/engines/position-order.js';

test('postgres LSNs compare as 64-bit offsets', () => {
  assert.equal(parseLsn('0/3000148'), 0x3000148n);
  assert.equal(parseLsn('1/0'), 1n << 32n);
  assert.equal(reached('postgres', '0/3000200', '0/3000148'), true);
  assert.equal(reached('postgres', '0/3000148', '0/3000148'), true);
  assert.equal(reached('postgres', '0/FFFFFFFF', '1/0'), false);
  assert.equal(reached('postgres', 'garbage', '0/1'), false);
  assert.equal(lsnDistance('0/100', '0/180'), 0x80);
  assert.equal(lsnDistance('0/200', '0/180'), 0);
  assert.equal(later('postgres', '0/200', '0/180'), '0/200');
  assert.equal(later('postgres', undefined, '0/180'), '0/180');
});

test('mariadb GTID positions compare per domain', () => {
  assert.equal(reached('mariadb', '0-1-42', '0-1-42'), true);
  assert.equal(reached('mariadb', '0-2-43', '0-1-42'), true, 'a promoted server continues the domain sequence');
  assert.equal(reached('mariadb', '0-1-41', '0-1-42'), false);
  assert.equal(reached('mariadb', '0-1-50', '0-1-42,1-3-7'), false, 'domain 1 missing');
  assert.equal(reached('mariadb', '0-1-50,1-3-7', '0-1-42,1-3-7'), true);
  assert.equal(reached('mariadb', '', '0-1-1'), false);
  assert.equal(reached('mariadb', '0-1-1', ''), true);
  assert.equal(reached('mariadb', 'x', '0-1-1'), false);
  assert.equal(later('mariadb', '0-1-50,1-3-2', '0-1-42,1-3-7'), '0-1-50,1-3-7');
});

test('mysql GTID sets compare by containment', () => {
  const u = '3E11FA47-71CA-11E1-9E33-C80AA9429562';
  const v = '4E11FA47-71CA-11E1-9E33-C80AA9429562';
  assert.equal(reached('mysql', `${u}:1-10`, `${u}:5`), true);
  assert.equal(reached('mysql', `${u}:1-4:6-10`, `${u}:5`), false);
  assert.equal(reached('mysql', `${u}:1-10,${v}:1-3`, `${u}:1-10,${v}:3`), true);
  assert.equal(reached('mysql', `${u}:1-10`, `${v}:1`), false);
  assert.equal(reached('mysql', `${u}:1-3:4-6`, `${u}:2-5`), true, 'adjacent intervals join');
  assert.equal(later('mysql', `${u}:1-10`, `${u}:1-5`), `${u}:1-10`);
});

test('mariadb: the same sequence number from another server is another transaction', () => {
  assert.equal(reached('mariadb', '0-2-42', '0-1-42'), false, 'two servers each wrote seq 42');
  assert.equal(reached('mariadb', '0-1-42,1-5-9', '0-1-42,1-4-9'), false, 'domain 1 disagrees');
  assert.equal(reached('mariadb', '0-1-42,1-4-10', '1-4-9'), true, 'multiple domains, each beyond');
  assert.equal(reached('mariadb', '0-1-5,0-2-9', '0-2-9'), true, 'a list naming a domain twice keeps its highest seq');
  assert.equal(reached('mariadb', '', ''), true, 'empty reaches empty');
  assert.equal(later('mariadb', '0-1-42', '0-2-42'), '0-2-42');
  assert.equal(later('mariadb', '1-1-3,0-1-9', '0-1-8'), '0-1-9,1-1-3', 'domains in order');
});

test('mariadb: a replica holding what the primary lacks has diverged', () => {
  assert.equal(holdsMore('mariadb', '0-1-1000', '0-1-51'), true, 'gtid_slave_pos set beyond the primary');
  assert.equal(holdsMore('mariadb', '0-1-51,7-3-1', '0-1-51'), true, 'a domain the primary never had');
  assert.equal(holdsMore('mariadb', '0-3-51', '0-1-51'), true, 'an errant write at the same seq');
  assert.equal(holdsMore('mariadb', '0-1-50', '0-1-51'), false, 'merely behind');
  assert.equal(holdsMore('mariadb', '0-1-40', '0-2-51'), false, 'behind a promoted primary that continued the domain');
  assert.equal(holdsMore('mariadb', '', '0-1-1'), false, 'an empty replica');
  assert.equal(holdsMore('mariadb', 'x', '0-1-1'), false, 'unreadable: cannot tell, never a verdict');
  assert.equal(holdsMore('postgres', '0/3000200', '0/3000100'), true);
  assert.equal(holdsMore('postgres', '0/3000100', '0/3000100'), false);
});

test('mysql GTID sets: intervals, several sources, tags, empty sets', () => {
  const u = '3E11FA47-71CA-11E1-9E33-C80AA9429562';
  const v = '4e11fa47-71ca-11e1-9e33-c80aa9429562';
  assert.equal(reached('mysql', `${u}:1-10:12-20`, `${u}:11`), false, 'a hole');
  assert.equal(reached('mysql', `${u}:1-10:12-20`, `${u}:12-20:3`), true);
  assert.equal(reached('mysql', `${u.toLowerCase()}:1-10`, `${u}:1-10`), true, 'uuid case does not matter');
  assert.equal(reached('mysql', `${v}:1-5,${u}:1-3`, `${u}:1-3,${v}:5`), true, 'sources in any order');
  assert.equal(reached('mysql', '', ''), true);
  assert.equal(reached('mysql', `${u}:1-3`, ''), true);
  assert.equal(reached('mysql', '', `${u}:1`), false);
  assert.equal(reached('mysql', `${u}:1-5:tag1:1-2`, `${u}:tag1:2`), true, 'tagged GTIDs are their own source');
  assert.equal(reached('mysql', `${u}:1-5`, `${u}:tag1:1`), false);
  assert.equal(reached('mysql', `${u}:5-3`, ''), false, 'a backwards interval is unreadable');
  assert.equal(later('mysql', `${u}:1-5`, `${u}:7-9,${v}:1`), `${u.toLowerCase()}:1-5:7-9,${v}:1`, 'neither contains the other: the union, normalized');
  assert.equal(holdsMore('mysql', `${u}:1-10,${v}:1`, `${u}:1-20`), true, 'an errant transaction from the replica\'s own uuid');
  assert.equal(holdsMore('mysql', `${u}:1-10`, `${u}:1-20`), false);
  assert.equal(gtidDistance('mysql', `${u}:1-5:8`, `${u}:1-9,${v}:1-2`), 5);
  assert.equal(gtidDistance('mariadb', '0-1-40', '0-1-42,1-2-3'), 5);
  assert.equal(gtidDistance('mariadb', '0-1-40', 'junk'), undefined);
});

test('mariadb: one write\'s own GTID as the position to reach, across a failover that changed the server id', () => {
  assert.equal(reached('mariadb', '0-1-124', '0-1-124'), true, 'the replica applied the write itself');
  assert.equal(reached('mariadb', '0-1-123', '0-1-124'), false, 'one behind');
  assert.equal(reached('mariadb', '0-2-130', '0-1-124'), true, 'a promoted primary (server 2) continued the domain past it');
  assert.equal(reached('mariadb', '0-2-124', '0-1-124'), false, 'seq 124 from another server: the write was lost in the failover');
  assert.equal(reached('mariadb', '0-1-200,1-3-9', '0-1-124'), true, 'other domains do not matter');
  assert.equal(reached('mariadb', '1-1-500', '0-1-124'), false, 'the write\'s domain missing');
  assert.equal(later('mariadb', '0-1-120,1-3-9', '0-1-124'), '0-1-124,1-3-9', 'merged into the unit of work\'s position per domain');
  assert.equal(readable('mariadb', '0-1-124'), true);
  assert.equal(readable('mariadb', '0/3000148'), false);
  assert.equal(readable('postgres', '0-1-124'), false);
});
