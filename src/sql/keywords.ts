/**
 * The words the classifier cares about, each with a small integer id, and a lookup from a word's
 * case-insensitive hash (computed by the lexer while it scans the word) to that id.
 *
 * Ids start at 1; 0 means "not a word we know". The ids index the role tables of the dialects
 * (`Uint8Array`s), so a token's meaning is one array read, not a string comparison. Keywords are
 * ASCII letters, digits and `_`.
 *
 * @example
 *   const SELECT = keywordId('select');
 *   lexer.next() === T_WORD && lexer.kw === SELECT;
 */

const WORDS = [
  // statement verbs
  'select', 'with', 'values', 'table', 'explain', 'describe', 'desc', 'show',
  'insert', 'update', 'delete', 'merge', 'replace', 'upsert', 'copy', 'load', 'truncate',
  'vacuum', 'analyze', 'analyse', 'refresh', 'cluster', 'reindex', 'checkpoint', 'notify',
  'import', 'optimize', 'repair', 'check', 'checksum', 'flush', 'kill', 'purge', 'reset',
  'call', 'do', 'create', 'alter', 'drop', 'rename', 'comment', 'grant', 'revoke', 'security',
  'reassign', 'set', 'discard', 'listen', 'unlisten', 'prepare', 'deallocate', 'use',
  'declare', 'lock', 'unlock', 'handler', 'begin', 'start', 'commit', 'end', 'rollback',
  'abort', 'savepoint', 'release', 'xa', 'execute', 'fetch', 'move', 'close', 'install',
  'uninstall', 'change', 'stop', 'binlog', 'cache', 'shutdown', 'restart', 'help',
  // clause words
  'from', 'join', 'into', 'using', 'only', 'lateral', 'if', 'not', 'exists', 'for', 'no',
  'key', 'share', 'in', 'mode', 'of', 'transaction', 'work', 'to', 'prepared', 'and',
  'chain', 'read', 'write', 'temp', 'temporary', 'global', 'local', 'or', 'next', 'previous',
  'value', 'outfile', 'dumpfile', 'warnings', 'errors', 'profile', 'profiles', 'count',
  'master', 'binary', 'sql_calc_found_rows', 'verbose', 'format', 'extended', 'partitions',
  'true', 'false', 'off', 'on', 'distinct', 'then', 'duplicate', 'tables', 'recursive', 'as',
  'materialized', 'where', 'group', 'order', 'limit', 'having', 'window', 'union', 'except',
  'intersect', 'offset', 'returning', 'straight_join', 'natural', 'unlogged', 'stdin',
  'stdout', 'program', 'serializable', 'by', 'over', 'filter', 'within', 'low_priority',
  'high_priority', 'delayed', 'ignore',
  // functions that write or depend on the session
  'nextval', 'setval', 'currval', 'lastval', 'last_insert_id', 'found_rows', 'row_count',
  'pg_advisory_lock', 'pg_advisory_lock_shared', 'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared', 'pg_advisory_unlock', 'pg_advisory_unlock_shared',
  'pg_advisory_unlock_all', 'pg_advisory_xact_lock', 'pg_advisory_xact_lock_shared',
  'pg_try_advisory_xact_lock', 'pg_try_advisory_xact_lock_shared', 'get_lock', 'release_lock',
  'release_all_locks', 'is_free_lock', 'is_used_lock', 'pg_notify', 'txid_current',
  'pg_current_xact_id', 'set_config', 'lo_create', 'lo_creat', 'lo_import', 'lo_unlink',
  'lo_put', 'lo_from_bytea', 'lo_truncate', 'lo_truncate64', 'lowrite', 'lo_open',
  'dblink_exec', 'pg_switch_wal', 'pg_create_restore_point', 'pg_logical_emit_message',
  'pg_create_physical_replication_slot', 'pg_create_logical_replication_slot',
  'pg_drop_replication_slot', 'pg_replication_origin_create', 'pg_replication_origin_drop',
  'pg_replication_origin_session_setup', 'pg_export_snapshot', 'pg_terminate_backend',
  'pg_cancel_backend', 'pg_reload_conf', 'pg_rotate_logfile', 'pg_current_wal_lsn',
  'pg_current_wal_insert_lsn', 'pg_current_wal_flush_lsn', 'pg_walfile_name',
  'pg_walfile_name_offset', 'pg_import_system_collations',
] as const;

/** A word the classifier knows. */
export type Keyword = (typeof WORDS)[number];

/** Number of ids, for sizing role tables (`new Uint8Array(KEYWORD_COUNT)`). */
export const KEYWORD_COUNT = WORDS.length + 1;

/**
 * How the lexer folds a word character for keyword matching: ASCII to lower case with `| 0x20`
 * (exact for letters; the other word characters, digits, `_` and `$`, never collide with a
 * letter), anything non-ASCII to 0xFF, which no keyword contains.
 */
export function foldCode(c: number): number {
  return c < 128 ? c | 0x20 : 0xff;
}

/**
 * A word's key is its last eight folded characters packed into two int32s, shifted in as the
 * lexer scans (`hi = (hi << 8) | (lo >>> 24); lo = (lo << 8) | folded`), plus its length. For
 * words of up to eight characters the key *is* the word, so a lookup compares three numbers and
 * no characters; longer words also compare their leading characters.
 */
const SLOT_BITS = 11;
const SLOTS = 1 << SLOT_BITS;
const slotIds = new Int16Array(SLOTS);
const keyLo = new Int32Array(KEYWORD_COUNT);
const keyHi = new Int32Array(KEYWORD_COUNT);
const lengths = new Uint8Array(KEYWORD_COUNT);
const texts: string[] = [''];
/** Upper-case spelling by id, for `Classification.verb`. */
export const KEYWORD_UPPER: readonly string[] = ['', ...WORDS.map((w) => w.toUpperCase())];

export const MAX_KEYWORD_LENGTH = Math.max(...WORDS.map((w) => w.length));

function slotOf(lo: number, hi: number, len: number): number {
  return Math.imul(lo ^ Math.imul(hi ^ len, 0x27d4eb2d), 0x9e3779b1) >>> (32 - SLOT_BITS);
}

for (let i = 0; i < WORDS.length; i++) {
  const w = WORDS[i]!;
  const id = i + 1;
  let lo = 0;
  let hi = 0;
  for (let j = 0; j < w.length; j++) {
    hi = (hi << 8) | (lo >>> 24);
    lo = (lo << 8) | foldCode(w.charCodeAt(j));
  }
  keyLo[id] = lo;
  keyHi[id] = hi;
  lengths[id] = w.length;
  texts.push(w);
  let slot = slotOf(lo, hi, w.length);
  while (slotIds[slot] !== 0) slot = (slot + 1) & (SLOTS - 1);
  slotIds[slot] = id;
}

/** The id of a known word (compile-time checked spelling). */
export function keywordId(word: Keyword): number {
  return WORDS.indexOf(word) + 1;
}

/**
 * The id of the word `src[start, end)` whose packed key is `lo`, `hi` (see above), or 0.
 * Case-insensitive.
 */
export function lookupKeyword(src: string, start: number, end: number, lo: number, hi: number): number {
  const len = end - start;
  let slot = slotOf(lo, hi, len);
  for (;;) {
    const id = slotIds[slot]!;
    if (id === 0) return 0;
    if (keyLo[id] === lo && keyHi[id] === hi && lengths[id] === len) {
      if (len <= 8) return id;
      const t = texts[id]!;
      let i = 0;
      while (i < len - 8 && foldCode(src.charCodeAt(start + i)) === foldCode(t.charCodeAt(i))) i++;
      if (i === len - 8) return id;
    }
    slot = (slot + 1) & (SLOTS - 1);
  }
}

/** The id of a whole string (used off the hot path, e.g. for quoted function names). */
export function keywordOf(word: string): number {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < word.length; i++) {
    hi = (hi << 8) | (lo >>> 24);
    lo = (lo << 8) | foldCode(word.charCodeAt(i));
  }
  return word.length <= MAX_KEYWORD_LENGTH ? lookupKeyword(word, 0, word.length, lo, hi) : 0;
}
