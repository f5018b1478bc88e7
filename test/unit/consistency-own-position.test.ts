// The consistency layer with writes whose results carry their own position (MariaDB's last_gtid),
// through fake mysql2 pools that answer position queries from a script: no capture, reads on a
// replica that has the write, and a replica claiming more than the primary and our writes account
// for still held back until the primary is asked (and then left out: it diverged).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createCluster } from '../../src/index.js';
import { createMysqlPool } from '../../src/engines/mysql/index.js';

interface World {
  primary: number;
  replicas: Record<string, string>;
  track: boolean;
  ran: { alias: string; sql: string }[];
}

class ScriptedPool {
  readonly pool = new EventEmitter();
  constructor(readonly world: World, readonly alias: string) {}
  query(sql: string): Promise<[unknown, unknown]> {
    const w = this.world;
    w.ran.push({ alias: this.alias, sql });
    if (/gtid_binlog_pos/.test(sql)) return Promise.resolve([[{ position: `0-1-${w.primary}` }], []]);
    if (/gtid_slave_pos/.test(sql)) return Promise.resolve([[{ position: w.replicas[this.alias] }], []]);
    if (/^INSERT|^UPDATE/.test(sql)) {
      w.primary++;
      const header = { fieldCount: 0, affectedRows: 1, serverStatus: 2, ...(w.track ? { stateChanges: { systemVariables: { last_gtid: `0-1-${w.primary}` } } } : {}) };
      return Promise.resolve([header, undefined]);
    }
    return Promise.resolve([[{ alias: this.alias }], []]);
  }
  execute(sql: string): Promise<[unknown, unknown]> {
    return this.query(sql);
  }
  getConnection(): Promise<never> {
    return Promise.reject(new Error('not used'));
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
}

function setup(world: World) {
  const cluster = createCluster({
    databases: {
      default: { url: 'mysql://app:pw@primary.test:3306/app', role: 'primary' },
      replica1: { host: 'replica1.test', role: 'replica' },
      replica2: { host: 'replica2.test', role: 'replica' },
    },
    health: false,
  });
  const pool = createMysqlPool(cluster, { createPool: (_c, alias) => new ScriptedPool(world, alias) });
  const where = async (): Promise<string> => ((await pool.query('SELECT 1'))[0] as { alias: string }[])[0]!.alias;
  const onPrimary = (from: number) => world.ran.slice(from).filter((r) => r.alias === 'default').map((r) => r.sql);
  return { cluster, pool, where, onPrimary };
}

test('a write that carried its GTID: no capture; the read goes to the replica that has it', async () => {
  const world: World = { primary: 4, replicas: { replica1: '0-1-5', replica2: '0-1-4' }, track: true, ran: [] };
  const { cluster, pool, where, onPrimary } = setup(world);
  await cluster.withToken(undefined, async () => {
    const from = world.ran.length;
    await pool.query('INSERT INTO t VALUES (1)');
    for (let i = 0; i < 5; i++) assert.equal(await where(), 'replica1');
    assert.deepEqual(onPrimary(from), ['INSERT INTO t VALUES (1)'], 'the primary received the write alone');
  });
  assert.equal(cluster.consistencyStats().captures, 0);
  await pool.end();
});

test('without a GTID in the result (tracking off): the lazy capture, as before', async () => {
  const world: World = { primary: 4, replicas: { replica1: '0-1-5', replica2: '0-1-4' }, track: false, ran: [] };
  const { cluster, pool, where, onPrimary } = setup(world);
  await cluster.withToken(undefined, async () => {
    const from = world.ran.length;
    await pool.query('INSERT INTO t VALUES (1)');
    assert.equal(await where(), 'replica1');
    assert.equal(onPrimary(from).filter((s) => /gtid_binlog_pos/.test(s)).length, 1);
  });
  assert.equal(cluster.consistencyStats().captures, 1);
  await pool.end();
});

test('a replica claiming more than the primary and our own writes account for is held back, then left out', async () => {
  const world: World = { primary: 4, replicas: { replica1: '0-1-4', replica2: '0-1-4' }, track: false, ran: [] };
  const { cluster, pool, where, onPrimary } = setup(world);
  // An untracked write's capture: the last primary position seen is 0-1-5.
  await cluster.withToken(undefined, async () => {
    await pool.query('INSERT INTO t VALUES (1)');
    await where();
  });
  world.track = true;
  world.replicas = { replica1: '0-1-9', replica2: '0-1-6' };
  await cluster.withToken(undefined, async () => {
    await new Promise((r) => setTimeout(r, 15)); // past probeIntervalMillis: replicas are asked again
    const from = world.ran.length;
    await pool.query('INSERT INTO t VALUES (2)'); // 0-1-6, reported
    assert.equal(await where(), 'replica2', 'replica1 claims 0-1-9: never a transaction of this primary');
    assert.deepEqual(onPrimary(from).filter((s) => /gtid_binlog_pos/.test(s)).length, 1, 'the primary was asked, to settle the claim');
  });
  await cluster.withToken(undefined, async () => {
    await pool.query('INSERT INTO t VALUES (3)'); // 0-1-7
    world.replicas.replica2 = '0-1-7';
    await new Promise((r) => setTimeout(r, 15));
    for (let i = 0; i < 3; i++) assert.equal(await where(), 'replica2', 'the diverged replica stays out of session reads');
  });
  assert.equal(cluster.consistencyStats().captures, 1, 'only the untracked write was captured');
  await pool.end();
});
