import type { Classification, Dialect } from '../sql/types.js';
import type { NodeInfo, Role } from './router.js';

/** What a `sqlComment` function is told about one statement: where it runs and why (never its text or parameters). */
export interface SqlCommentContext {
  /** The node the statement runs on. */
  readonly alias: string;
  /** That node's role. */
  readonly role: Role;
  /** The routing reason (`select`, `insert`, `read-your-writes`, `transaction`, …), as in `cluster.stats()`. */
  readonly reason: string;
}

/** Key/value pairs of a sqlcommenter comment; `undefined` values are left out. */
export type SqlCommentTags = Readonly<Record<string, string | undefined>>;

/**
 * Chooses the keys of each statement's comment (see `sqlComment` in the cluster configuration).
 * Called once per statement, in the caller's async context; return `undefined` for no comment.
 *
 * @example
 *   const sqlComment: SqlCommentFunction = (s) => ({ dbrouter_alias: s.alias, dbrouter_reason: s.reason, application: 'shop' });
 */
export type SqlCommentFunction = (statement: SqlCommentContext) => SqlCommentTags | undefined;

/**
 * The comment for one statement about to run on `node`, or `undefined` for none. `prepared`: a
 * server-side prepared statement (pg `name`, mysql2 `execute`), whose text must not vary.
 */
export type Commenter = (node: NodeInfo, reason: string, c: Classification, prepared: boolean) => string | undefined;

// sqlcommenter: URL-encode, then escape the meta character `'`. Encoded strictly (RFC 3986, as
// OpenTelemetry's sql-common does: `!'()*` too), no key or value holds `'`, `*`, `/`, `!` or `\`:
// none can end the comment, open a nested one, or start a MySQL `/*!` executable comment.
function encode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * A sqlcommenter comment (https://google.github.io/sqlcommenter/spec/): keys sorted, each
 * `key='value'` URL-encoded (strictly: `'` too), joined by commas. `''` when no key has a value.
 *
 * @example
 *   serializeSqlComment({ dbrouter_reason: 'select', dbrouter_alias: 'replica1' });
 *   // "/*dbrouter_alias='replica1',dbrouter_reason='select'*\/"
 */
export function serializeSqlComment(tags: SqlCommentTags): string {
  const pairs: string[] = [];
  for (const key of Object.keys(tags).sort()) {
    const value = tags[key];
    if (value === undefined || key === '') continue;
    pairs.push(`${encode(key)}='${encode(String(value))}'`);
  }
  return pairs.length === 0 ? '' : `/*${pairs.join(',')}*/`;
}

// Conservative: a `--`, `/*` (or MySQL `#`) anywhere, even inside a literal, counts as a comment.
const HAS_COMMENT: Readonly<Record<Dialect, RegExp>> = { postgres: /--|\/\*/, mysql: /--|\/\*|#/ };
const TRAILING_SEMICOLON = /;\s*$/;

/**
 * `text` with `comment` appended, as the sqlcommenter spec asks: at the end, before a trailing
 * `;` (a MySQL server without multi-statements refuses anything after it). A statement that
 * already holds a comment is returned as it is (the spec: never mutate it).
 */
export function appendSqlComment(text: string, comment: string, dialect: Dialect): string {
  if (comment === '' || HAS_COMMENT[dialect].test(text)) return text;
  const m = TRAILING_SEMICOLON.exec(text);
  return m === null ? `${text} ${comment}` : `${text.slice(0, m.index)} ${comment}${text.slice(m.index)}`;
}

/**
 * The cluster's commenter for its `sqlComment` setting. `true`: `dbrouter_alias` and
 * `dbrouter_reason`, cached per node and reason. A prepared statement gets `dbrouter_alias`
 * alone, whatever the setting: a node's connections always carry the same alias, so its text is
 * the same each time (node-postgres refuses a name reused with another text; mysql2 would prepare
 * every variant anew). A statement the classifier could not read gets none: where a comment would
 * land in it is not known.
 */
export function createCommenter(setting: true | SqlCommentFunction, nodeCount: number): Commenter {
  const prepared: (string | undefined)[] = new Array<string | undefined>(nodeCount);
  const preparedComment = (node: NodeInfo): string => (prepared[node.index] ??= serializeSqlComment({ dbrouter_alias: node.alias }));
  if (setting === true) {
    const cache = Array.from({ length: nodeCount }, () => new Map<string, string>());
    return (node, reason, c, isPrepared) => {
      if (c.reason === 'unknown') return undefined;
      if (isPrepared) return preparedComment(node);
      const byReason = cache[node.index]!;
      let s = byReason.get(reason);
      if (s === undefined) {
        s = serializeSqlComment({ dbrouter_alias: node.alias, dbrouter_reason: reason });
        byReason.set(reason, s);
      }
      return s;
    };
  }
  return (node, reason, c, isPrepared) => {
    if (c.reason === 'unknown') return undefined;
    if (isPrepared) return preparedComment(node);
    const tags = setting({ alias: node.alias, role: node.role, reason });
    return tags === undefined ? undefined : serializeSqlComment(tags);
  };
}
