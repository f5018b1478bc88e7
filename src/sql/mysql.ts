/**
 * MySQL's and MariaDB's reading of a statement: `#` and `-- ` comments, executable comments
 * `/*! ... *\/` whose content is code, backslash escapes, backticks, `@variables`, and the
 * functions that write (MariaDB `NEXTVAL`, `SETVAL`), read session state (`LAST_INSERT_ID`,
 * `FOUND_ROWS`, `ROW_COUNT`, `LASTVAL`) or take named locks (`GET_LOCK`, ...).
 *
 * @example
 *   import { MYSQL } from './mysql.js';
 *   classifyWith('SELECT LAST_INSERT_ID()', MYSQL, NO_FUNCTIONS).reason; // 'session-function'
 */
import { COMMON_FUNCTIONS, COMMON_VERBS, defineDialect, F, V } from './dialect.js';

export const MYSQL = defineDialect({
  name: 'mysql',
  mysql: true,
  // `LOAD DATA` / `LOAD XML` write rows.
  verbs: { ...COMMON_VERBS, load: V.WRITE },
  functions: {
    ...COMMON_FUNCTIONS,
    last_insert_id: F.SESSION_READ,
    found_rows: F.SESSION_READ,
    row_count: F.SESSION_READ,
    get_lock: F.LOCK,
    release_lock: F.LOCK,
    release_all_locks: F.LOCK,
    is_free_lock: F.LOCK,
    is_used_lock: F.LOCK,
  },
});
