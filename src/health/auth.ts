/**
 * Tells a refused login apart from a server that is down, so messages give the right advice.
 * PostgreSQL answers SQLSTATE `28P01` (wrong password) or `28000` (no such role / not allowed by
 * pg_hba.conf); MySQL and MariaDB errno 1045 (`ER_ACCESS_DENIED_ERROR`).
 *
 * @example
 *   authFailure(err) // 'the server refused the login of user "app" (wrong user name or password: PostgreSQL 28P01)'
 */
export function authFailure(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const err = e as { code?: unknown; errno?: unknown; message?: unknown };
  const message = typeof err.message === 'string' ? err.message : '';
  const user = /user "([^"]*)"|user '([^']*)'/.exec(message);
  const who = user ? ` of user "${user[1] ?? user[2] ?? ''}"` : '';
  if (err.code === '28P01') return `the server refused the login${who}: wrong password (PostgreSQL 28P01). Fix the password in the URL (or the monitor's credentials)`;
  if (err.code === '28000') return `the server refused the login${who} (PostgreSQL 28000: no such role, or pg_hba.conf does not allow it). Fix the user in the URL or the server's pg_hba.conf`;
  if (err.errno === 1045 || err.code === 'ER_ACCESS_DENIED_ERROR') {
    return `the server refused the login${who}: wrong user name or password (MySQL 1045). Fix the credentials in the URL (or the monitor's credentials)`;
  }
  return undefined;
}

/**
 * True when the server itself answered with an error (a refused login, too many connections, a
 * shutdown in progress): whatever is wrong with it, the network to it works. node-postgres marks a
 * server's error with its `severity`; mysql2 with a `sqlState` and a server error number (its
 * socket errors have neither).
 *
 * @example
 *   answeredByServer(Object.assign(new Error('too many connections'), { code: 'ER_CON_COUNT_ERROR', errno: 1040, sqlState: '08004' })) // true
 */
export function answeredByServer(e: unknown): boolean {
  if (authFailure(e) !== undefined) return true;
  if (typeof e !== 'object' || e === null) return false;
  const err = e as { severity?: unknown; sqlState?: unknown; errno?: unknown };
  return typeof err.severity === 'string' || (typeof err.sqlState === 'string' && typeof err.errno === 'number' && err.errno > 0);
}
