import { errorNumber } from '../engine.js';
import { firstValue } from '../positions.js';
import type { ReplicationPositions, RowsFn } from '../../routing/positions.js';

/** ER_UNKNOWN_SYSTEM_VARIABLE: the server is MySQL, not MariaDB (no `gtid_binlog_pos`). */
const UNKNOWN_VARIABLE = 1193;
/** A GTID position or set, as both servers print them: safe to put in a statement's text. */
const POSITION_TEXT = /^[0-9A-Fa-f:,\-\s]*$/;

/**
 * MariaDB positions are GTID lists (`@@gtid_binlog_pos` on the primary, `@@gtid_slave_pos` on a
 * replica; `MASTER_GTID_WAIT` waits in the server). MySQL's are GTID sets (`@@gtid_executed`,
 * `WAIT_FOR_EXECUTED_GTID_SET`). Which one this is shows on the first query, so one instance per cluster.
 */
export class MysqlPositions implements ReplicationPositions {
  #kind: 'mariadb' | 'mysql' = 'mariadb';

  get kind(): 'mariadb' | 'mysql' {
    return this.#kind;
  }

  async primary(run: RowsFn): Promise<string | undefined> {
    if (this.#kind === 'mariadb') {
      try {
        return firstValue(await run('SELECT @@global.gtid_binlog_pos AS position')) ?? '';
      } catch (e) {
        if (errorNumber(e) !== UNKNOWN_VARIABLE) throw e;
        this.#kind = 'mysql';
      }
    }
    return firstValue(await run('SELECT @@global.gtid_executed AS position')) ?? '';
  }

  async replayed(run: RowsFn): Promise<string | undefined> {
    const sql = this.#kind === 'mariadb' ? 'SELECT @@global.gtid_slave_pos AS position' : 'SELECT @@global.gtid_executed AS position';
    return firstValue(await run(sql));
  }

  async waitFor(run: RowsFn, position: string, timeoutMillis: number): Promise<boolean> {
    if (!POSITION_TEXT.test(position)) return false;
    const seconds = Math.max(0, timeoutMillis) / 1000;
    const sql = this.#kind === 'mariadb'
      ? `SELECT MASTER_GTID_WAIT('${position}', ${seconds.toFixed(3)}) AS r`
      : `SELECT WAIT_FOR_EXECUTED_GTID_SET('${position}', ${seconds.toFixed(3)}) AS r`;
    return firstValue(await run(sql)) === '0';
  }

  /**
   * Never: semi-synchronous replication acknowledges a commit once a replica has *received* it, not
   * applied it, so a read right after could still miss it. Asking for synchronous writes on
   * MySQL/MariaDB is `SYNC_UNAVAILABLE` rather than a promise we cannot keep.
   */
  synchronousReplicas(_run: RowsFn): Promise<boolean> {
    return Promise.resolve(false);
  }

  awaitSynchronousApply(_run: RowsFn, _timeoutMillis: number, _admin: RowsFn): Promise<boolean> {
    return Promise.reject(new Error('MySQL/MariaDB replicas are never synchronous-apply'));
  }
}
