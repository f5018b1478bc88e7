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

/** One MariaDB GTID, `domain-server-sequence`: what `last_gtid` holds after a write committed. */
const ONE_GTID = /^\d{1,10}-\d{1,10}-\d{1,20}$/;

/** The OK packet's status flag for a transaction open after the statement. */
const SERVER_STATUS_IN_TRANS = 0x0001;

/** Adds `last_gtid` to what the session reports in its OK packets (kept if already there). */
const TRACK_LAST_GTID =
  "SET SESSION session_track_system_variables = IF(FIND_IN_SET('last_gtid', @@session.session_track_system_variables) > 0, @@session.session_track_system_variables, CONCAT_WS(',', NULLIF(@@session.session_track_system_variables, ''), 'last_gtid'))";

/**
 * Connection set-up (a node pool's `'connection'` listener): asks MariaDB to report the session's
 * last GTID in the OK packet of every statement that commits a transaction, so that a write's own
 * position comes with its result ({@link ownWritePosition}) and no separate round trip asks the
 * primary for it. Sent only when the handshake names MariaDB (MySQL has no `last_gtid`), before the
 * connection's first statement (mysql2 runs a connection's commands in order). An error (a MariaDB
 * without session tracking) only leaves tracking off; so does an `onConnect` statement that sets
 * what the session tracks (it runs after this one): writes then fall back to asking.
 */
export function trackLastGtid(conn: { query(sql: string, cb: (err: Error | null) => void): unknown }): void {
  const version = (conn as { _handshakePacket?: { serverVersion?: unknown } })._handshakePacket?.serverVersion;
  if (typeof version !== 'string' || !/mariadb/i.test(version)) return;
  conn.query(TRACK_LAST_GTID, () => undefined);
}

/**
 * The write's own replication position from its mysql2 result: the GTID MariaDB reported in the
 * statement's OK packet (`stateChanges.systemVariables.last_gtid`, with `last_gtid` tracked and
 * mysql2's CLIENT_SESSION_TRACK, on by default). MariaDB reports it only when the statement
 * committed a transaction (an autocommit write, a COMMIT), so its presence means this very
 * statement produced it; a write that changed nothing reports none. `undefined` whenever the
 * result does not say: tracking off, MySQL, a result set, several statements at once (one of them
 * may have committed without reporting, after a change to what is tracked), a transaction left
 * open by the statement (autocommit off).
 */
export function ownWritePosition(result: unknown): string | undefined {
  if (result === null || typeof result !== 'object' || Array.isArray(result)) return undefined;
  const header = result as { serverStatus?: unknown; stateChanges?: { systemVariables?: Record<string, unknown> } };
  // A transaction still open after the statement (autocommit off): it committed nothing yet, so
  // whatever `last_gtid` says is not its position.
  if (typeof header.serverStatus !== 'number' || (header.serverStatus & SERVER_STATUS_IN_TRANS) !== 0) return undefined;
  const gtid = header.stateChanges?.systemVariables?.last_gtid;
  return typeof gtid === 'string' && ONE_GTID.test(gtid) ? gtid : undefined;
}
