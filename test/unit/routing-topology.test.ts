// The routing view's own invariant: a topology always has a primary.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDbRouterError } from '../../src/errors.js';
import { NodeCounters, Topology } from '../../src/routing/topology.js';

test('a topology without a primary is a CONFIG_INVALID DbRouterError naming the roles', () => {
  assert.throws(
    () => new Topology([{ alias: 'replica1', role: 'replica', weight: 1 }, { alias: 'replica2', role: 'replica', weight: 1 }], new NodeCounters(2), []),
    (e: unknown) => {
      assert.ok(isDbRouterError(e, 'CONFIG_INVALID'), String(e));
      assert.match(e.message, /No database in the cluster is a primary \(replica1: replica, replica2: replica\): give one alias role: 'primary'/);
      return true;
    },
  );
});

test('the primary is `default` when it is one, else the first primary', () => {
  const counters = new NodeCounters(3);
  const roles = (aliases: [string, 'primary' | 'replica'][]) => aliases.map(([alias, role]) => ({ alias, role, weight: 1 }));
  assert.equal(new Topology(roles([['a', 'primary'], ['default', 'primary'], ['r', 'replica']]), counters, []).primary.alias, 'default');
  assert.equal(new Topology(roles([['r', 'replica'], ['b', 'primary'], ['c', 'primary']]), counters, []).primary.alias, 'b');
});
