/**
 * Recognizing the session set-up that ORMs send on a fresh checkout or on release: `SET time_zone`,
 * `SET search_path`, `SET application_name`, `SET client_min_messages`, `RESET …`, `DISCARD ALL`.
 * On a plain pool these would bind a checked-out client to the primary (they change session state);
 * a routed client remembers them instead and replays them on every node connection it uses, so its
 * reads stay on replicas with the same settings.
 */

/** A quoted literal or identifier, or anything but a statement separator or a quote. */
const BODY = String.raw`(?:[^;'"]|'(?:[^']|'')*'|"(?:[^"]|"")*")+`;

/**
 * `SET [SESSION] name …` of a plain setting. Not `SET LOCAL` (transaction-scoped), not `SET ROLE` or
 * `SET SESSION AUTHORIZATION` (privileges: they stay on the primary, bound), not `SET TRANSACTION`,
 * `SET SESSION CHARACTERISTICS` or `SET CONSTRAINTS` (transaction semantics), not
 * `default_transaction_read_only` / `transaction_*` (a replica refuses some of them).
 */
const SET = String.raw`set\s+(?:session\s+(?!authorization\b|characteristics\b))?(?!local\b|role\b|session\b|transaction\b|constraints\b|default_transaction_|transaction_)` + BODY;
const RESET = String.raw`reset\s+(?!role\b|session\b)[\w."]+`;
const CLEAR = String.raw`(?:discard\s+all|reset\s+all)`;

const ONE = new RegExp(String.raw`^\s*(?:${CLEAR}|${RESET}|${SET})\s*$`, 'i');
const CLEAR_ONE = new RegExp(String.raw`^\s*${CLEAR}\s*$`, 'i');

/** What a statement text does to the session, when it is only set-up. */
export type SessionSetup = { readonly kind: 'set'; readonly sql: string } | { readonly kind: 'clear'; readonly sql: string };

/**
 * The statements of `sql` (several, separated by `;`, as Sequelize sends them) when every one is
 * session set-up, else `undefined`. A `DISCARD ALL` / `RESET ALL` forgets what came before it.
 */
export function sessionSetup(sql: string): readonly SessionSetup[] | undefined {
  const first = sql.trimStart().slice(0, 8).toLowerCase();
  if (!first.startsWith('set') && !first.startsWith('reset') && !first.startsWith('discard')) return undefined;
  const parts = splitStatements(sql);
  if (parts === undefined || parts.length === 0) return undefined;
  const out: SessionSetup[] = [];
  for (const p of parts) {
    if (!ONE.test(p)) return undefined;
    out.push({ kind: CLEAR_ONE.test(p) ? 'clear' : 'set', sql: p.trim() });
  }
  return out;
}

/** Splits on `;` outside quotes; `undefined` on an unterminated quote or a comment (left to the server). */
function splitStatements(sql: string): string[] | undefined {
  const parts: string[] = [];
  let start = 0;
  let quote = '';
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i]!;
    if (quote !== '') {
      if (ch === quote) quote = '';
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '-' && sql[i + 1] === '-') return undefined;
    else if (ch === '/' && sql[i + 1] === '*') return undefined;
    else if (ch === '$') return undefined;
    else if (ch === ';') {
      parts.push(sql.slice(start, i));
      start = i + 1;
    }
  }
  if (quote !== '') return undefined;
  parts.push(sql.slice(start));
  return parts.filter((p) => p.trim() !== '');
}

/** The settings a client holds after `steps`: a clear forgets everything before it. */
export function applySetup(settings: readonly string[], steps: readonly SessionSetup[]): string[] {
  let out = [...settings];
  for (const s of steps) out = s.kind === 'clear' ? [] : [...out, s.sql];
  return out;
}
