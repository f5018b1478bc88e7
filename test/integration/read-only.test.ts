// Strict read-only scopes on real clusters, both engines: a write inside cluster.readOnly() is
// refused with READ_ONLY before it reaches any server (no routed statement, no row on the primary),
// while reads in the same scope run on replicas (by the server's own port).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isDbRouterError, type RouteEvent } from '../../src/index.js';
import type { LocalCluster } from '../../src/local/index.js';
import { engineSkip, sharedCluster } from '../harness/clusters.js';
import { primaryConnection, routedDb, type Db } from './consistency-helpers.js';

for (const engine of ['postgres', 'mariadb'] as const) {
  describe(`read-only scope on ${engine}`, { skip: await engineSkip(engine) }, () => {
    let local: LocalCluster;
    let db: Db;
    before(async () => {
      local = await sharedCluster(engine);
      db = routedDb(local, { consistency: 'eventual' });
      await db.q('DROP TABLE IF EXISTS ro_items');
      await db.q('CREATE TABLE ro_items (id int PRIMARY KEY)');
      await local.waitForAllReplicas();
    });
    after(() => db.end());

    test('a write is refused before any server; reads go on on replicas', async () => {
      const routed: RouteEvent[] = [];
      const onRoute = (e: RouteEvent) => routed.push(e);
      db.cluster.on('route', onRoute);
      try {
        await db.cluster.readOnly(async () => {
          await assert.rejects(db.q('INSERT INTO ro_items (id) VALUES (?)', [1]), (e: unknown) => isDbRouterError(e, 'READ_ONLY'));
          await assert.rejects(db.cluster.primary(() => db.q('DELETE FROM ro_items')), (e: unknown) => isDbRouterError(e, 'READ_ONLY'));
          const rows = await db.q(`SELECT count(*) AS n, ${db.PORT} FROM ro_items`);
          assert.match(db.aliasOf(rows), /^replica/);
        });
      } finally {
        db.cluster.off('route', onRoute);
      }
      assert.deepEqual(routed.map((e) => e.reason), ['select'], 'only the read was routed to a server');
      const direct = await primaryConnection(local);
      try {
        const r = await direct.q('SELECT count(*) AS n FROM ro_items');
        // pg answers { rows }, mysql2 [rows, fields].
        const rows = (Array.isArray(r) ? r[0] : (r as { rows: unknown[] }).rows) as { n: number | string }[];
        assert.equal(Number(rows[0]!.n), 0, 'the primary has no row');
      } finally {
        await direct.end();
      }
    });
  });
}
