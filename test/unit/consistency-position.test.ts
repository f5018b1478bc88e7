import { test } from 'node:test';
import assert from 'node:assert/strict';
import { later, lsnDistance, parseLsn, reached } from '../../src/consistency/position.js';

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
