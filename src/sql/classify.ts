/**
 * The classifier: one pass of the lexer over a statement text, reading the leading verb and
 * collecting facts (write words, `INTO`, row locks, function calls, `;`, tables) as bit flags,
 * then one decision. Anything that is not surely a read goes to the primary.
 *
 * Not re-entrant by design (one module-level lexer, no allocation per call beyond the result);
 * JavaScript runs it to completion, so that is safe.
 *
 * @example
 *   classifyWith('SELECT * FROM t FOR UPDATE', POSTGRES, NO_FUNCTIONS).reason; // 'row-lock'
 */
import { V, type DialectSpec } from './dialect.js';
import { KEYWORD_COUNT, KEYWORD_UPPER, keywordId as k, keywordOf, type Keyword } from './keywords.js';
import {
  Lexer, T_ASSIGN, T_COMMA, T_DOT, T_EOF, T_LPAREN, T_NUMBER, T_QIDENT, T_RPAREN, T_SEMI, T_STRING,
  T_VAR, T_WORD,
} from './lexer.js';
import type { Classification, SessionEffect } from './types.js';

/** User-named write functions, lower-case, bare (`fn`) or schema-qualified (`public.fn`). */
export interface CompiledFunctions {
  readonly names: ReadonlySet<string>;
}

export const NO_FUNCTIONS: CompiledFunctions = { names: new Set() };

// Facts, as bits.
const F_WRITE = 1;
const F_INTO = 2;
const F_INTO_SESSION = 4; // INTO @var (MySQL), INTO TEMP t (PostgreSQL)
const F_ROW_LOCK = 8;
const F_WRITE_FN = 16;
const F_SESSION_READ = 32;
const F_SESSION_SET = 64;
const F_LOCK = 128;
const F_LOCK_XACT = 256;
const F_ASSIGN = 512;
const F_CALC_FOUND_ROWS = 1024;
const F_READ_ONLY = 2048;
const F_READ_WRITE = 4096;
const F_CHAIN = 8192;
const F_SERIALIZABLE = 16384;
const SESSION_EFFECT = F_LOCK | F_SESSION_SET | F_INTO_SESSION | F_ASSIGN | F_CALC_FOUND_ROWS;

/** Fact bit by function kind (`F.*`). */
const FUNCTION_FACT = [0, F_WRITE_FN, F_SESSION_READ, F_SESSION_SET, F_LOCK, F_LOCK_XACT];

// What a word does inside a statement.
const R_INSERT = 1; // INSERT, REPLACE: a write unless a call follows: MySQL INSERT(), REPLACE()
const R_WRITE = 2; // DELETE, MERGE, UPSERT
const R_UPDATE = 3;
const R_SHARE = 4;
const R_INTO = 5;
const R_FROM = 6;
const R_JOIN = 7;
const R_USING = 8;
const R_TABLE = 9;
const R_FOR = 10;
const R_ONLY = 11;
const R_WRITE_WORD = 12;
const R_CHAIN = 13;
const R_CALC = 14;
const R_CLAUSE = 15; // ends a FROM list
const R_SERIALIZABLE = 16;
const R_WITH = 17;
const R_CTE_WORD = 18; // AS, NOT, MATERIALIZED, RECURSIVE between CTE names and bodies

function table<T extends number>(entries: Partial<Record<Keyword, T>>): Uint8Array {
  const t = new Uint8Array(KEYWORD_COUNT);
  for (const [w, v] of Object.entries(entries)) t[k(w as Keyword)] = v;
  return t;
}

const ROLE = table({
  insert: R_INSERT, replace: R_INSERT, delete: R_WRITE, merge: R_WRITE, upsert: R_WRITE,
  update: R_UPDATE, share: R_SHARE, into: R_INTO, from: R_FROM, join: R_JOIN,
  straight_join: R_JOIN, using: R_USING, table: R_TABLE, tables: R_TABLE, for: R_FOR,
  only: R_ONLY, write: R_WRITE_WORD, chain: R_CHAIN, sql_calc_found_rows: R_CALC,
  serializable: R_SERIALIZABLE, with: R_WITH, as: R_CTE_WORD, not: R_CTE_WORD,
  materialized: R_CTE_WORD, recursive: R_CTE_WORD,
  where: R_CLAUSE, group: R_CLAUSE, order: R_CLAUSE, limit: R_CLAUSE, having: R_CLAUSE,
  window: R_CLAUSE, union: R_CLAUSE, except: R_CLAUSE, intersect: R_CLAUSE, on: R_CLAUSE,
  set: R_CLAUSE, values: R_CLAUSE, select: R_CLAUSE, returning: R_CLAUSE, offset: R_CLAUSE,
});

// Where a table name is expected: words to skip, and words that show there is no name.
const TN_SKIP = 1;
const TN_STOP = 2;
const TABLE_WORD = table({
  only: TN_SKIP, if: TN_SKIP, not: TN_SKIP, exists: TN_SKIP, table: TN_SKIP, tables: TN_SKIP,
  temp: TN_SKIP, temporary: TN_SKIP, unlogged: TN_SKIP, into: TN_SKIP, low_priority: TN_SKIP,
  high_priority: TN_SKIP, delayed: TN_SKIP, ignore: TN_SKIP,
  select: TN_STOP, values: TN_STOP, with: TN_STOP, lateral: TN_STOP, outfile: TN_STOP,
  dumpfile: TN_STOP, stdin: TN_STOP, stdout: TN_STOP, program: TN_STOP, set: TN_STOP,
  where: TN_STOP, on: TN_STOP, using: TN_STOP, join: TN_STOP, for: TN_STOP, as: TN_STOP,
  order: TN_STOP, group: TN_STOP, limit: TN_STOP, union: TN_STOP,
});

const EXPLAIN_OPTION = table({
  analyze: 1, analyse: 1, verbose: 2, extended: 2, partitions: 2, format: 3,
});

const UPDATE = k('update');
const INSERT = k('insert');
const REPLACE = k('replace');
const TABLE = k('table');
const TRUNCATE = k('truncate');
const COPY = k('copy');
const LOCK = k('lock');
const FOR = k('for');
const KEY = k('key');
const NO = k('no');
const IN = k('in');
const DUPLICATE = k('duplicate');
const VALUE = k('value');
const NEXT = k('next');
const PREVIOUS = k('previous');
const READ = k('read');
const AND = k('and');
const INTO = k('into');
const DISTINCT = k('distinct');
const TEMP = k('temp');
const TEMPORARY = k('temporary');
const TRANSACTION = k('transaction');
const WORK = k('work');
const TO = k('to');
const PREPARED = k('prepared');
const START = k('start');
const BEGIN = k('begin');
const COMMIT = k('commit');
const ROLLBACK = k('rollback');
const FALSE = k('false');
const OFF = k('off');

const SHOW_SESSION = table({ warnings: 1, errors: 1, profile: 1, profiles: 1, count: 1 });
const SHOW_PRIMARY = table({ master: 1, binary: 1, binlog: 1 });

const EMPTY: readonly string[] = Object.freeze([]);

const lx = new Lexer();
/** Set by `statement` when it stopped at `;` and another statement follows: that token's kind. */
let following = T_EOF;

function result(
  target: 'primary' | 'replica',
  reason: string,
  verb: string,
  effect: SessionEffect,
  readOnly: boolean,
  tables: readonly string[],
): Classification {
  return { target, reason, verb, effect, readOnly, tables };
}

function unquote(src: string, start: number, end: number): string {
  const q = src.charAt(start);
  const inner = src.slice(start + 1, end - 1);
  return inner.includes(q) ? inner.split(q + q).join(q) : inner;
}

/** A name token (`T_WORD` lower-cased, `T_QIDENT` unquoted with its case kept). */
function namePart(kind: number, src: string, start: number, end: number): string {
  return kind === T_QIDENT ? unquote(src, start, end) : src.slice(start, end).toLowerCase();
}

/**
 * Classifies the statement whose first token the lexer has just read (`t`). Stops at its end: at
 * EOF, or at `;` (setting `following` when another statement comes after).
 */
function statement(spec: DialectSpec, fns: CompiledFunctions, t: number): Classification {
  const src = lx.src;
  let depth = 0;
  while (t === T_LPAREN) {
    depth++;
    t = lx.next();
  }
  const verbKw = t === T_WORD ? lx.kw : 0;
  const vclass = verbKw !== 0 ? spec.verbs[verbKw]! : V.UNKNOWN;
  const verb = t === T_WORD ? (verbKw !== 0 ? KEYWORD_UPPER[verbKw]! : src.slice(lx.start, lx.end).toUpperCase()) : '';
  if (vclass === V.EXPLAIN) return explain(spec, fns, verb);

  let f = 0;
  let tables: string[] | null = null;
  // The previous token (kind, keyword id, span) and the keyword id of the one before.
  let p1k = t, p1kw = verbKw, p1s = lx.start, p1e = lx.end;
  let p2kw = 0;
  let k2 = 0, k3 = 0, k4 = 0;
  let n = 1;
  let pendingWrite = false;
  // Table names: 0 none, 1 a name is expected, 2 a name was read, 3 a name and `.` were read.
  let tn = 0;
  let tnCall = false; // a `(` after the name makes it a function (FROM generate_series(...))
  let tnName = '';
  let listMask = 0; // bit d: a comma at depth d starts another table name
  let callMask = 0; // bit d: the parenthesis at depth d is a function call's
  // CTE names are not tables: `WITH name [(cols)] AS [NOT MATERIALIZED] (...) [, ...]` at cteDepth.
  let cteDepth = vclass === V.WITH ? depth : -1;
  let cteExpect = cteDepth >= 0;
  let cteNames: string[] | null = null;
  let outerCtes: number[] | null = null;
  if (vclass === V.WRITE || vclass === V.READ || vclass === V.LOCK) {
    // MySQL's `INSERT [IGNORE] t ...` and `REPLACE t ...` may leave out INTO.
    if (verbKw === UPDATE || verbKw === TABLE || verbKw === TRUNCATE || verbKw === COPY || verbKw === LOCK || verbKw === INSERT || verbKw === REPLACE) {
      tn = 1;
      listMask = 1 << depth;
    }
  }

  for (;;) {
    t = lx.next();
    if (pendingWrite) {
      pendingWrite = false;
      if (t !== T_LPAREN) f |= F_WRITE;
    }
    let consumed = false;
    if (tn !== 0) {
      if (tn === 1) {
        if (t === T_WORD) {
          const role = lx.kw !== 0 ? TABLE_WORD[lx.kw]! : 0;
          if (role === TN_SKIP) {
            consumed = true;
            // PostgreSQL `SELECT ... INTO TEMP t` creates a temporary table: session state.
            if (p1kw === INTO && (lx.kw === TEMP || lx.kw === TEMPORARY)) f |= F_INTO_SESSION;
          }
          else if (role !== TN_STOP) {
            tnName = src.slice(lx.start, lx.end).toLowerCase();
            tn = 2;
            consumed = true;
          } else tn = 0;
        } else if (t === T_QIDENT) {
          tnName = unquote(src, lx.start, lx.end);
          tn = 2;
          consumed = true;
        } else tn = 0;
      } else if (tn === 2) {
        if (t === T_DOT) {
          tn = 3;
          consumed = true;
        } else {
          if (t !== T_LPAREN || !tnCall) tables = addTable(tables, tnName);
          tn = 0;
        }
      } else {
        if (t === T_WORD || t === T_QIDENT) {
          tnName += '.' + namePart(t, src, lx.start, lx.end);
          tn = 2;
          consumed = true;
        } else {
          tables = addTable(tables, tnName);
          tn = 0;
        }
      }
    }
    if (cteDepth === depth && !consumed) {
      if (t === T_WORD || t === T_QIDENT) {
        const role = t === T_WORD && lx.kw !== 0 ? ROLE[lx.kw] : 0;
        if (cteExpect && role !== R_CTE_WORD) {
          (cteNames ??= []).push(namePart(t, src, lx.start, lx.end));
          cteExpect = false;
          consumed = true;
        } else if (role !== R_CTE_WORD) cteDepth = -1;
      } else if (t === T_COMMA) cteExpect = true;
    }
    if (!consumed) {
      if (t === T_EOF) break;
      if (t === T_SEMI) {
        do t = lx.next();
        while (t === T_SEMI);
        if (t !== T_EOF) following = t;
        break;
      }
      switch (t) {
        case T_WORD: {
          const kw = lx.kw;
          if (kw === 0) break;
          switch (ROLE[kw]) {
            case R_INSERT:
              pendingWrite = true;
              break;
            case R_WRITE:
              f |= F_WRITE;
              break;
            case R_UPDATE:
              if (p1kw === FOR || (p1kw === KEY && p2kw === NO)) f |= F_ROW_LOCK;
              else if (!(p1kw === KEY && p2kw === DUPLICATE)) {
                f |= F_WRITE;
                if (p1k === T_LPAREN || p1k === T_RPAREN) {
                  tn = 1;
                  tnCall = false;
                  listMask |= 1 << depth;
                }
              }
              break;
            case R_SHARE:
              if (p1kw === FOR || (p1kw === KEY && p2kw === FOR) || (p1kw === IN && p2kw === LOCK)) f |= F_ROW_LOCK;
              break;
            case R_INTO:
              f |= F_INTO;
              tn = 1;
              tnCall = false;
              break;
            case R_FROM:
              if ((callMask & (1 << depth)) === 0 && p1kw !== DISTINCT) {
                tn = 1;
                tnCall = true;
                listMask |= 1 << depth;
              }
              break;
            case R_JOIN:
              tn = 1;
              tnCall = true;
              break;
            case R_USING:
              tn = 1;
              tnCall = true;
              listMask |= 1 << depth;
              break;
            case R_TABLE:
              tn = 1;
              tnCall = false;
              listMask |= 1 << depth;
              break;
            case R_FOR:
              listMask &= ~(1 << depth);
              if (p1kw === VALUE) {
                if (p2kw === NEXT) f |= F_WRITE_FN;
                else if (p2kw === PREVIOUS) f |= F_SESSION_READ;
              }
              break;
            case R_ONLY:
              if (p1kw === READ) f |= F_READ_ONLY;
              break;
            case R_WRITE_WORD:
              if (p1kw === READ) f |= F_READ_WRITE;
              break;
            case R_CHAIN:
              if (p1kw === AND) f |= F_CHAIN;
              break;
            case R_CALC:
              f |= F_CALC_FOUND_ROWS;
              break;
            case R_SERIALIZABLE:
              f |= F_SERIALIZABLE;
              break;
            case R_CLAUSE:
              listMask &= ~(1 << depth);
              break;
            case R_WITH:
              if (p1k === T_LPAREN) {
                // A WITH nested in a CTE body: resume the outer list when its body closes.
                if (cteDepth >= 0) (outerCtes ??= []).push(cteDepth);
                cteDepth = depth;
                cteExpect = true;
              }
              break;
          }
          break;
        }
        case T_LPAREN: {
          let call = false;
          if (p1k === T_WORD) {
            call = p1kw === 0;
            if (p1kw !== 0) {
              const fk = spec.functions[p1kw]!;
              if (fk !== 0) {
                f |= FUNCTION_FACT[fk]!;
                call = true;
              }
            }
            if (fns.names.size !== 0 && userFunction(fns, src, p1k, p1s, p1e)) f |= F_WRITE_FN;
          } else if (p1k === T_QIDENT) {
            call = true;
            const fk = spec.functions[keywordOf(unquote(src, p1s, p1e))]!;
            if (fk !== 0) f |= FUNCTION_FACT[fk]!;
            if (fns.names.size !== 0 && userFunction(fns, src, p1k, p1s, p1e)) f |= F_WRITE_FN;
          }
          depth++;
          if (depth < 31) {
            const bit = 1 << depth;
            callMask = call ? callMask | bit : callMask & ~bit;
            listMask &= ~bit;
          }
          break;
        }
        case T_RPAREN:
          if (depth > 0) depth--;
          if (outerCtes !== null && outerCtes.length > 0 && outerCtes[outerCtes.length - 1] === depth) {
            cteDepth = outerCtes.pop()!;
            cteExpect = false;
          }
          break;
        case T_COMMA:
          if ((listMask & (1 << depth)) !== 0 && tn === 0) {
            tn = 1;
          }
          break;
        case T_VAR:
          if (p1kw === INTO) f |= F_INTO_SESSION;
          else if (src.charCodeAt(lx.start + 1) === 64) {
            const name = src.slice(lx.start + 2, lx.end).toLowerCase();
            if (name === 'identity' || name === 'last_insert_id') f |= F_SESSION_READ;
          }
          break;
        case T_ASSIGN:
          f |= F_ASSIGN;
          break;
      }
    }
    if (n < 4) {
      n++;
      const kw = lx.kw;
      if (n === 2) k2 = kw;
      else if (n === 3) k3 = kw;
      else k4 = kw;
    }
    p2kw = p1kw;
    p1k = t; p1kw = lx.kw; p1s = lx.start; p1e = lx.end;
  }
  if (pendingWrite) f |= F_WRITE;
  if (tn === 2 || tn === 3) tables = addTable(tables, tnName);
  if (cteNames !== null && tables !== null) {
    const ctes = cteNames;
    tables = tables.filter((name) => !ctes.includes(name));
  }
  return decide(spec, vclass, verb, f, k2, k3, k4, tables ?? EMPTY);
}

/** More names than any real statement has; keeps a pathological text linear. */
const MAX_TABLES = 256;

function addTable(tables: string[] | null, name: string): string[] {
  if (tables === null) return [name];
  if (tables.length < MAX_TABLES && !tables.includes(name)) tables.push(name);
  return tables;
}

/**
 * Whether the call whose name is `src[p1s, p1e)` is a user write function: bare, or qualified by
 * the name before a `.` (read backwards from the source; rare enough to be off the hot path).
 */
function userFunction(fns: CompiledFunctions, src: string, p1k: number, p1s: number, p1e: number): boolean {
  const name = namePart(p1k, src, p1s, p1e).toLowerCase();
  if (fns.names.has(name)) return true;
  let i = p1s - 1;
  while (i >= 0 && src.charCodeAt(i) <= 32) i--;
  if (i < 0 || src.charCodeAt(i) !== 46) return false;
  i--;
  while (i >= 0 && src.charCodeAt(i) <= 32) i--;
  const end = i + 1;
  const q = src.charCodeAt(i);
  if (q === 34 || q === 96) {
    i = src.lastIndexOf(String.fromCharCode(q), i - 1);
    if (i < 0) return false;
    return fns.names.has(unquote(src, i, end).toLowerCase() + '.' + name);
  }
  while (i >= 0 && isNamePart(src.charCodeAt(i))) i--;
  if (i + 1 === end) return false;
  return fns.names.has(src.slice(i + 1, end).toLowerCase() + '.' + name);
}

function isNamePart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c >= 128;
}

function explain(spec: DialectSpec, fns: CompiledFunctions, verb: string): Classification {
  let analyze = false;
  let t = lx.next();
  if (t === T_LPAREN) {
    // PostgreSQL `EXPLAIN (ANALYZE [true|false|on|off|1|0], BUFFERS, FORMAT JSON, ...)`
    let afterAnalyze = false;
    for (t = lx.next(); t !== T_RPAREN && t !== T_EOF && t !== T_SEMI; t = lx.next()) {
      if (afterAnalyze) {
        afterAnalyze = false;
        if (isFalse(t)) {
          analyze = false;
          continue;
        }
      }
      if (t === T_WORD && EXPLAIN_OPTION[lx.kw] === 1) analyze = afterAnalyze = true;
    }
    if (t === T_RPAREN) t = lx.next();
  }
  while (t === T_WORD && EXPLAIN_OPTION[lx.kw] !== 0) {
    const option = EXPLAIN_OPTION[lx.kw];
    if (option === 1) analyze = true;
    t = lx.next();
    if (option === 3) {
      // MySQL `FORMAT = TREE`
      if (t !== T_WORD) lx.next();
      t = lx.next();
    }
  }
  if (t === T_EOF) return result('primary', 'unknown', verb, 'none', false, EMPTY);
  // `EXPLAIN EXPLAIN ...` is no statement; stopping here also bounds the recursion.
  if (t === T_WORD && spec.verbs[lx.kw] === V.EXPLAIN) {
    lx.skipToEnd();
    return result('primary', 'unknown', verb, 'none', false, EMPTY);
  }
  const inner = statement(spec, fns, t);
  if (inner.target === 'replica') return result('replica', 'explain', verb, 'none', false, inner.tables);
  if (analyze) return result('primary', 'explain-analyze', verb, inner.effect, false, inner.tables);
  // A read_only MySQL/MariaDB server refuses even to explain a write (a PostgreSQL standby plans
  // it). `unknown` here is `DESCRIBE t`, `EXPLAIN FOR CONNECTION n`: reads.
  if (spec.mysql && inner.reason !== 'unknown') return result('primary', 'explain-write', verb, 'none', false, inner.tables);
  return result('replica', 'explain', verb, 'none', false, inner.tables);
}

function isFalse(t: number): boolean {
  if (t === T_WORD) return lx.kw === FALSE || lx.kw === OFF;
  if (t === T_NUMBER || t === T_STRING) {
    const text = lx.src.slice(lx.start, lx.end).replace(/'/g, '').toLowerCase();
    return text === '0' || text === 'false' || text === 'off' || text === 'no';
  }
  return false;
}

function decide(
  spec: DialectSpec,
  vclass: number,
  verb: string,
  f: number,
  k2: number,
  k3: number,
  k4: number,
  tables: readonly string[],
): Classification {
  const sessionFacts = (f & SESSION_EFFECT) !== 0;
  switch (vclass) {
    case V.READ:
    case V.WITH: {
      const effect: SessionEffect = sessionFacts ? 'session' : 'none';
      if ((f & F_WRITE) !== 0) return result('primary', vclass === V.WITH ? 'write-cte' : 'write', verb, effect, false, tables);
      if ((f & F_INTO) !== 0) return result('primary', 'select-into', verb, effect, false, tables);
      if ((f & F_WRITE_FN) !== 0) return result('primary', 'write-function', verb, effect, false, tables);
      if ((f & (F_LOCK | F_LOCK_XACT)) !== 0) return result('primary', 'lock-function', verb, effect, false, tables);
      if ((f & (F_SESSION_READ | F_SESSION_SET)) !== 0) return result('primary', 'session-function', verb, effect, false, tables);
      if ((f & F_ROW_LOCK) !== 0) return result('primary', 'row-lock', verb, effect, false, tables);
      if ((f & (F_ASSIGN | F_CALC_FOUND_ROWS)) !== 0) return result('primary', 'session-state', verb, effect, false, tables);
      return result('replica', 'select', verb, 'none', false, tables);
    }
    case V.SHOW:
      if (spec.mysql && SHOW_SESSION[k2] !== 0) return result('primary', 'session-function', verb, 'none', false, tables);
      if (spec.mysql && SHOW_PRIMARY[k2] !== 0) return result('primary', 'primary-status', verb, 'none', false, tables);
      return result('replica', 'show', verb, 'none', false, tables);
    case V.WRITE:
      return result('primary', 'write', verb, sessionFacts ? 'session' : 'none', false, tables);
    case V.DDL:
      return result('primary', 'ddl', verb, sessionFacts ? 'session' : 'none', false, tables);
    case V.CREATE:
      if (k2 === TEMP || k2 === TEMPORARY || k3 === TEMP || k3 === TEMPORARY || k4 === TEMP || k4 === TEMPORARY) {
        return result('primary', 'session-state', verb, 'session', false, tables);
      }
      return result('primary', 'ddl', verb, sessionFacts ? 'session' : 'none', false, tables);
    case V.DROP:
      if (k2 === TEMPORARY || k2 === TEMP) return result('primary', 'session-state', verb, 'session', false, tables);
      return result('primary', 'ddl', verb, 'none', false, tables);
    case V.SESSION:
      return result('primary', 'session-state', verb, 'session', false, tables);
    case V.LOCK:
      return result('primary', 'table-lock', verb, 'session', false, tables);
    case V.CALL:
      // A procedure or DO block may SET, take locks or control transactions: keep the connection.
      return result('primary', 'write', verb, 'session', false, tables);
    case V.PREPARE:
      if (k2 === TRANSACTION) return result('primary', 'transaction-end', verb, 'end', false, tables);
      return result('primary', 'session-state', verb, 'session', false, tables);
    case V.START:
      // START SLAVE / REPLICA / GROUP_REPLICATION are administration.
      if (k2 !== TRANSACTION) return result('primary', 'write', verb, 'none', false, tables);
      return begin(spec, verb, f, tables);
    case V.BEGIN:
      return begin(spec, verb, f, tables);
    case V.COMMIT:
    case V.ROLLBACK:
      if (k2 === PREPARED) return result('primary', 'write', verb, 'none', false, tables);
      if (vclass === V.ROLLBACK && (k2 === TO || ((k2 === WORK || k2 === TRANSACTION) && k3 === TO))) {
        return result('primary', 'savepoint', verb, 'none', false, tables);
      }
      if ((f & F_CHAIN) !== 0) return result('primary', 'transaction-chain', verb, 'begin', false, tables);
      return result('primary', 'transaction-end', verb, 'end', false, tables);
    case V.END:
      return result('primary', 'transaction-end', verb, 'end', false, tables);
    case V.SAVEPOINT:
      return result('primary', 'savepoint', verb, 'none', false, tables);
    case V.XA:
      if (k2 === START || k2 === BEGIN) return result('primary', 'transaction-begin', verb, 'begin', false, tables);
      if (k2 === COMMIT || k2 === ROLLBACK) return result('primary', 'transaction-end', verb, 'end', false, tables);
      return result('primary', 'session-state', verb, 'session', false, tables);
    case V.EXECUTE:
      return result('primary', 'execute', verb, sessionFacts ? 'session' : 'none', false, tables);
    case V.CURSOR:
      return result('primary', 'cursor', verb, 'none', false, tables);
    default:
      return result('primary', 'unknown', verb, 'none', false, tables);
  }
}

function begin(spec: DialectSpec, verb: string, f: number, tables: readonly string[]): Classification {
  const readOnly = (f & F_READ_ONLY) !== 0 && (f & F_READ_WRITE) === 0;
  // A hot standby refuses SERIALIZABLE ("cannot use serializable mode in a hot standby").
  if (readOnly && !((f & F_SERIALIZABLE) !== 0 && !spec.mysql)) {
    return result('replica', 'transaction-read-only', verb, 'begin', true, tables);
  }
  return result('primary', 'transaction-begin', verb, 'begin', readOnly, tables);
}

function merge(a: Classification, b: Classification): Classification {
  let tables = a.tables;
  if (b.tables.length !== 0) {
    const all = [...a.tables];
    for (const t of b.tables) if (all.length < MAX_TABLES && !all.includes(t)) all.push(t);
    tables = all;
  }
  const effect: SessionEffect = a.effect !== 'none' || b.effect !== 'none' ? 'session' : 'none';
  return result('primary', 'multi-statement', a.verb, effect, false, tables);
}

/**
 * Classifies `sql` in `spec`'s dialect. Pure apart from the shared lexer; no cache.
 *
 * @example
 *   classifyWith('select 1; delete from t', POSTGRES, NO_FUNCTIONS).reason; // 'multi-statement'
 */
export function classifyWith(sql: string, spec: DialectSpec, fns: CompiledFunctions, otherEscapes = false): Classification {
  lx.reset(sql, spec.mysql, otherEscapes);
  following = T_EOF;
  let r = statement(spec, fns, lx.next());
  let multi = false;
  while (following !== T_EOF) {
    const t = following;
    following = T_EOF;
    r = merge(r, statement(spec, fns, t));
    multi = true;
  }
  if (lx.unterminated) return result('primary', 'unknown', r.verb, multi ? r.effect : 'none', false, r.tables);
  if (lx.ambiguousEscape && r.target === 'replica' && !otherEscapes) {
    // `'a\'...'` ends in one place with backslash escapes and in another without (MySQL's
    // NO_BACKSLASH_ESCAPES, PostgreSQL's standard_conforming_strings): a read only if it is a read
    // both ways. A reading that leaves a string open is a syntax error there and runs nothing.
    const other = classifyWith(sql, spec, fns, true);
    if (other.target === 'primary' && !lx.unterminated) return other;
  }
  return r;
}

