import { firstValue, type ReplicationPositions, type RowsFn } from '../positions.js';

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

  async synchronousReplicas(run: RowsFn): Promise<boolean> {
    const names = firstValue(await run("SELECT current_setting('synchronous_standby_names') AS names"));
    return names !== undefined && names.trim() !== '';
  }
}
