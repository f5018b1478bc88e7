/**
 * PostgreSQL's reading of a statement: standard strings, `E''`, dollar quotes, nested comments,
 * and the functions that write (`nextval`, `pg_notify`, `txid_current`, large objects, ...),
 * read session state (`currval`, `lastval`), set it (`set_config`) or take advisory locks.
 *
 * @example
 *   import { POSTGRES } from './postgres.js';
 *   classifyWith('SELECT nextval($1)', POSTGRES, NO_FUNCTIONS).reason; // 'write-function'
 */
import { COMMON_FUNCTIONS, COMMON_VERBS, defineDialect, F, V } from './dialect.js';

export const POSTGRES = defineDialect({
  name: 'postgres',
  mysql: false,
  // `LOAD 'library'` loads a shared library into this session.
  verbs: { ...COMMON_VERBS, load: V.SESSION },
  functions: {
    ...COMMON_FUNCTIONS,
    currval: F.SESSION_READ,
    set_config: F.SESSION_SET,
    pg_advisory_lock: F.LOCK,
    pg_advisory_lock_shared: F.LOCK,
    pg_try_advisory_lock: F.LOCK,
    pg_try_advisory_lock_shared: F.LOCK,
    pg_advisory_unlock: F.LOCK,
    pg_advisory_unlock_shared: F.LOCK,
    pg_advisory_unlock_all: F.LOCK,
    pg_advisory_xact_lock: F.LOCK_XACT,
    pg_advisory_xact_lock_shared: F.LOCK_XACT,
    pg_try_advisory_xact_lock: F.LOCK_XACT,
    pg_try_advisory_xact_lock_shared: F.LOCK_XACT,
    pg_notify: F.WRITE,
    // Assigning a transaction id is impossible during recovery.
    txid_current: F.WRITE,
    pg_current_xact_id: F.WRITE,
    lo_create: F.WRITE,
    lo_creat: F.WRITE,
    lo_import: F.WRITE,
    lo_unlink: F.WRITE,
    lo_put: F.WRITE,
    lo_from_bytea: F.WRITE,
    lo_truncate: F.WRITE,
    lo_truncate64: F.WRITE,
    lowrite: F.WRITE,
    lo_open: F.WRITE,
    dblink_exec: F.WRITE,
    // WAL control functions raise 55000 "recovery is in progress" on a standby (PostgreSQL 15
    // xlogfuncs.c: each checks RecoveryInProgress()); they describe the primary's WAL anyway.
    pg_current_wal_lsn: F.WRITE,
    pg_current_wal_insert_lsn: F.WRITE,
    pg_current_wal_flush_lsn: F.WRITE,
    pg_walfile_name: F.WRITE,
    pg_walfile_name_offset: F.WRITE,
    // Writes pg_collation: refused by a read-only transaction.
    pg_import_system_collations: F.WRITE,
    pg_switch_wal: F.WRITE,
    pg_create_restore_point: F.WRITE,
    pg_logical_emit_message: F.WRITE,
    pg_create_physical_replication_slot: F.WRITE,
    pg_create_logical_replication_slot: F.WRITE,
    pg_drop_replication_slot: F.WRITE,
    pg_replication_origin_create: F.WRITE,
    pg_replication_origin_drop: F.WRITE,
    pg_replication_origin_session_setup: F.SESSION_SET,
    // A snapshot exported on one node cannot be imported on another.
    pg_export_snapshot: F.SESSION_SET,
    // Administration acts on the node it runs on; people mean the primary.
    pg_terminate_backend: F.WRITE,
    pg_cancel_backend: F.WRITE,
    pg_reload_conf: F.WRITE,
    pg_rotate_logfile: F.WRITE,
  },
});
