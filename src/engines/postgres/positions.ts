import { randomUUID } from 'node:crypto';
import { firstValue } from '../positions.js';
import type { ReplicationPositions, RowsFn } from '../../routing/positions.js';

/**
 * PostgreSQL positions are WAL LSNs: the primary's `pg_current_wal_lsn()`, a standby's
 * `pg_last_wal_replay_lsn()` (NULL on a primary). There is no server-side wait: the consistency
 * layer polls. Synchronous replicas exist when `synchronous_standby_names` is set.
 */
export class PostgresPositions implements ReplicationPositions {
  readonly kind = 'postgres' as const;

  async primary(run: RowsFn): Promise<string | undefined> {
    return firstValue(await run('SELECT pg_current_wal_lsn()::text AS position'));
  }

  async replayed(run: RowsFn): Promise<string | undefined> {
    return firstValue(await run('SELECT pg_last_wal_replay_lsn()::text AS position'));
  }

  /**
   * WAL is applied in order, so once a later commit is applied on the synchronous standbys, so is
   * the caller's. The marker transaction writes a WAL record (`pg_logical_emit_message`) so that
   * its commit waits; one round trip (simple protocol, several statements). `statement_timeout`
   * does not end a wait for synchronous replication, so a timer cancels it (`pg_cancel_backend`,
   * found by the marker's unique comment): PostgreSQL then ends the wait with a warning.
   */
  async awaitSynchronousApply(run: RowsFn, timeoutMillis: number, admin: RowsFn): Promise<boolean> {
    const tag = `dbrouter-sync-${randomUUID()}`;
    const marker = run(`/* ${tag} */ BEGIN; SET LOCAL synchronous_commit = remote_apply; SELECT pg_logical_emit_message(true, 'dbrouter', ''); COMMIT`);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<true>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMillis);
    });
    try {
      if ((await Promise.race([marker.then(() => false), timedOut])) === false) return true;
    } finally {
      clearTimeout(timer);
    }
    await admin(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE '/* ${tag} */%'`);
    await marker.catch(() => undefined);
    return false;
  }

  async synchronousReplicas(run: RowsFn): Promise<boolean> {
    const names = firstValue(await run("SELECT current_setting('synchronous_standby_names') AS names"));
    return names !== undefined && names.trim() !== '';
  }
}
