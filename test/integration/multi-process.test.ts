// Four app processes behind one port (node:cluster), each with its own dbrouter cluster, sharing only
// the consistency secret, over a real PostgreSQL cluster whose replicas apply 1 s late. A user's
// token from one process is honoured by the others: no own read is stale, though most of them are
// served by another process than the write's. The control run, without tokens, shows that the same
// traffic does read stale data, so the first assertion can fail.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runMultiProcess } from '../../bench/multiprocess.js';
import { engineSkip } from '../harness/clusters.js';

describe('many app processes behind one port', { skip: await engineSkip('postgres') }, () => {
  test('a token written by one process is honoured by another: 0 stale own reads; without tokens, stale reads', { timeout: 120_000 }, async () => {
    const common = { processes: 4, users: [16], seconds: 6, delayMillis: 1000, thinkMillis: 100, writeShare: 0.3, log: (l: string) => process.stderr.write(l + '\n') };
    const { phases: [withTokens] } = await runMultiProcess(common);
    assert.ok(withTokens);
    assert.equal(withTokens.failed, 0, 'no request failed');
    assert.ok(withTokens.own_reads >= 10, `enough own reads (${withTokens.own_reads})`);
    assert.equal(withTokens.stale_own_reads, 0, 'no own read missed the user\'s write');
    assert.ok(withTokens.cross_process_reads >= withTokens.own_reads / 3, `own reads ran in another process than the write (${withTokens.cross_process_reads} of ${withTokens.own_reads}; round-robin over 4 processes)`);
    assert.ok(withTokens.replica_reads > 0, 'replicas served reads');
    assert.equal(withTokens.heap_mib.length, 4, 'four processes answered');

    const { phases: [control] } = await runMultiProcess({ ...common, sendTokens: false });
    assert.ok(control);
    assert.ok(control.stale_own_reads > 0, `without tokens the same traffic reads stale data (${control.stale_own_reads} of ${control.own_reads})`);
  });
});
