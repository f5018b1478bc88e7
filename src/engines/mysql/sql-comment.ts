import { appendSqlComment } from '../../routing/sql-comment.js';

/**
 * A mysql2 or `mariadb` connector statement (`[method, text or { sql, … }, values]`) with a
 * sqlcommenter comment on its text. `execute` is a server-side prepared statement, and so is the
 * `mariadb` connector's `batch` (a bulk execution of one prepared statement).
 */
export function commentMysqlArgs<A extends readonly ['query' | 'execute' | 'batch', unknown, unknown]>(a: A, make: (prepared: boolean) => string | undefined): A {
  const input = a[1];
  const text = typeof input === 'string' ? input : typeof input === 'object' && input !== null ? (input as { sql?: unknown }).sql : undefined;
  if (typeof text !== 'string') return a;
  const comment = make(a[0] !== 'query');
  if (comment === undefined) return a;
  const commented = appendSqlComment(text, comment, 'mysql');
  if (commented === text) return a;
  return [a[0], typeof input === 'string' ? commented : { ...(input as object), sql: commented }, a[2]] as unknown as A;
}
