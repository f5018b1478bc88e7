/**
 * The one tokenizer both dialects share: a single pass over char codes that yields the next
 * significant token (comments and whitespace are skipped) into the lexer's own fields, so no token
 * object is allocated. Dialect differences are flags: `#` and `-- ` comments, executable `/*! *\/`
 * comments, backslash escapes, backticks and `@variables` for MySQL; nested comments, `E''`
 * strings, dollar quotes and `$1` parameters for PostgreSQL.
 *
 * Why hand-written and not a package (checked on npm before writing it): the full parsers
 * (node-sql-parser, pgsql-ast-parser, libpg-query) build an AST per statement, far more work than
 * the ~1 µs per statement (≥ 1,000,000 statements/s uncached) the routing hot path can spend, and
 * libpg-query is native code for one dialect; the light ones do less than routing needs:
 * sql-query-identifier names a statement's type from its leading keywords (no write CTEs, row
 * locks or write functions), dbgate-query-splitter only splits statements, sql-tokenizer builds a
 * token list with regular expressions. Routing needs tokens, not a tree, so this file is the whole
 * front end: no token objects, no regex, keywords found by a packed key (keywords.ts).
 *
 * @example
 *   const lx = new Lexer();
 *   lx.reset('SELECT 1 -- hi', false);
 *   while (lx.next() !== T_EOF) console.log(lx.kind, lx.src.slice(lx.start, lx.end));
 */
import { lookupKeyword, MAX_KEYWORD_LENGTH } from './keywords.js';

export const T_EOF = 0;
/** An unquoted word; `kw` is its keyword id or 0. */
export const T_WORD = 1;
/** A quoted identifier: `"x"` (PostgreSQL) or `` `x` `` (MySQL). */
export const T_QIDENT = 2;
export const T_STRING = 3;
export const T_NUMBER = 4;
/** A PostgreSQL `$1` parameter. */
export const T_PARAM = 5;
export const T_LPAREN = 6;
export const T_RPAREN = 7;
export const T_SEMI = 8;
export const T_COMMA = 9;
export const T_DOT = 10;
/** Any other operator or punctuation character. */
export const T_OP = 11;
/** A MySQL `@var`, `@'var'` or `@@system.var`. */
export const T_VAR = 12;
/** MySQL `:=`. */
export const T_ASSIGN = 13;

/** Character classes for ASCII: 1 = starts a word, 2 = continues a word. */
const WORD_START = 1;
const WORD_PART = 2;
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
  const digit = c >= 48 && c <= 57;
  CLASS[c] = (letter ? WORD_START | WORD_PART : 0) | (digit ? WORD_PART : 0);
}
const DOLLAR = 36;
/**
 * Characters that are always a one-character token in both dialects, with their kind; 0 for the
 * ones that need a closer look (quotes, comment starts, `$`, `@`, `:`, digits).
 */
const SINGLE = new Uint8Array(128);
for (let c = 33; c < 127; c++) {
  if ((CLASS[c]! & WORD_PART) === 0) SINGLE[c] = T_OP;
}
SINGLE[40] = T_LPAREN;
SINGLE[41] = T_RPAREN;
SINGLE[59] = T_SEMI;
SINGLE[44] = T_COMMA;
SINGLE[46] = T_DOT;
for (const c of '\'"`-#/*$@:') SINGLE[c.charCodeAt(0)] = 0;

export class Lexer {
  src = '';
  /** True for MySQL/MariaDB rules, false for PostgreSQL. */
  mysql = false;
  /**
   * Read strings the other way a server may be configured: MySQL with `NO_BACKSLASH_ESCAPES`
   * (`\` is an ordinary character), PostgreSQL with `standard_conforming_strings = off` (`\`
   * escapes in `'...'` too).
   */
  otherEscapes = false;
  pos = 0;
  kind = T_EOF;
  start = 0;
  end = 0;
  /** Keyword id of a `T_WORD`, else 0. */
  kw = 0;
  /** A string, quoted identifier or comment ran to the end of the text. */
  unterminated = false;
  /** A string contained `\` before its own quote character, which the other reading ends elsewhere. */
  ambiguousEscape = false;
  #inExecComment = false;

  reset(src: string, mysql: boolean, otherEscapes = false): void {
    this.src = src;
    this.mysql = mysql;
    this.otherEscapes = otherEscapes;
    this.pos = 0;
    this.kind = T_EOF;
    this.start = 0;
    this.end = 0;
    this.kw = 0;
    this.unterminated = false;
    this.ambiguousEscape = false;
    this.#inExecComment = false;
  }

  /** Gives up on the rest of the text: the next token is EOF. */
  skipToEnd(): void {
    this.pos = this.src.length;
  }

  /** Advances to the next significant token and returns its kind (also in `kind`). */
  next(): number {
    const src = this.src;
    const len = src.length;
    let p = this.pos;
    for (;;) {
      if (p >= len) {
        this.pos = this.start = this.end = len;
        this.kw = 0;
        return (this.kind = T_EOF);
      }
      const c = src.charCodeAt(p);
      if (c <= 32) {
        p++;
        while (p < len && src.charCodeAt(p) <= 32) p++;
        continue;
      }
      const start = p;
      this.start = p;
      if (c < 128 ? (CLASS[c]! & WORD_START) !== 0 || (c === DOLLAR && this.mysql) : true) {
              // The packed key of keywords.ts: the last eight folded characters in two int32s.
        let lo = c < 128 ? c | 0x20 : 0xff;
        let hi = 0;
        p++;
        for (; p < len; p++) {
          const d = src.charCodeAt(p);
          let folded = 0xff;
          if (d < 128) {
            if ((CLASS[d]! & WORD_PART) === 0 && d !== DOLLAR) break;
            folded = d | 0x20;
          }
          hi = (hi << 8) | (lo >>> 24);
          lo = (lo << 8) | folded;
        }
        if (p === start + 1 && (c | 0x20) === 101 && !this.mysql && p < len && src.charCodeAt(p) === 39) {
          this.kw = 0;
          return this.#string(start, p + 1, 39, true, false);
        }
        this.pos = this.end = p;
        this.kw = p - start <= MAX_KEYWORD_LENGTH ? lookupKeyword(src, start, p, lo, hi) : 0;
        return (this.kind = T_WORD);
      }
      this.kw = 0;
      const single = c < 128 ? SINGLE[c]! : 0;
      if (single !== 0) {
        this.pos = this.end = p + 1;
        return (this.kind = single);
      }
      switch (c) {
        case 39: // '
          return this.#string(start, p + 1, 39, this.mysql !== this.otherEscapes, !this.otherEscapes);
        case 34: // "
          if (this.mysql) return this.#string(start, p + 1, 34, !this.otherEscapes, !this.otherEscapes);
          return this.#quoted(start, p + 1, 34);
        case 96: // `
          if (this.mysql) return this.#quoted(start, p + 1, 96);
          break;
        case 40:
          return this.#single(p, T_LPAREN);
        case 41:
          return this.#single(p, T_RPAREN);
        case 59:
          return this.#single(p, T_SEMI);
        case 44:
          return this.#single(p, T_COMMA);
        case 46:
          return this.#single(p, T_DOT);
        case 45: // -
          if (p + 1 < len && src.charCodeAt(p + 1) === 45) {
            // MySQL needs whitespace or a control character after `--`; `1--1` is arithmetic.
            if (!this.mysql || p + 2 >= len || src.charCodeAt(p + 2) <= 32) {
              p = this.#lineEnd(p + 2);
              continue;
            }
          }
          break;
        case 35: // #
          if (this.mysql) {
            p = this.#lineEnd(p + 1);
            continue;
          }
          break;
        case 47: // /
          if (p + 1 < len && src.charCodeAt(p + 1) === 42) {
            if (this.mysql) {
              const m = src.charCodeAt(p + 2);
              if (m === 33 || (m === 77 && src.charCodeAt(p + 3) === 33)) {
                // `/*! code */`, `/*!50001 code */`, MariaDB `/*M!100100 code */`: the content is code.
                p += m === 33 ? 3 : 4;
                while (p < len && src.charCodeAt(p) >= 48 && src.charCodeAt(p) <= 57) p++;
                this.#inExecComment = true;
                continue;
              }
              const close = src.indexOf('*/', p + 2);
              if (close < 0) {
                this.unterminated = true;
                p = len;
              } else p = close + 2;
              continue;
            }
            p = this.#nestedCommentEnd(p + 2);
            continue;
          }
          break;
        case 42: // *
          if (this.#inExecComment && p + 1 < len && src.charCodeAt(p + 1) === 47) {
            this.#inExecComment = false;
            p += 2;
            continue;
          }
          break;
        case 36: // $
          if (!this.mysql) return this.#dollar(p);
          break;
        case 64: // @
          if (this.mysql) return this.#variable(p);
          break;
        case 58: // :
          if (this.mysql && p + 1 < len && src.charCodeAt(p + 1) === 61) {
            this.pos = this.end = p + 2;
            return (this.kind = T_ASSIGN);
          }
          break;
        default:
          if (c >= 48 && c <= 57) {
            p++;
            while (p < len) {
              const d = src.charCodeAt(p);
              if (d < 128 && (CLASS[d]! & WORD_PART) === 0 && d !== 46) break;
              p++;
            }
            this.pos = this.end = p;
            return (this.kind = T_NUMBER);
          }
      }
      return this.#single(p, T_OP);
    }
  }

  #single(p: number, kind: number): number {
    this.pos = this.end = p + 1;
    return (this.kind = kind);
  }

  #lineEnd(p: number): number {
    const src = this.src;
    const len = src.length;
    while (p < len) {
      const c = src.charCodeAt(p);
      if (c === 10 || c === 13) return p + 1;
      p++;
    }
    return len;
  }

  #nestedCommentEnd(p: number): number {
    const src = this.src;
    const len = src.length;
    let depth = 1;
    while (p < len) {
      const c = src.charCodeAt(p);
      if (c === 42 && src.charCodeAt(p + 1) === 47) {
        p += 2;
        if (--depth === 0) return p;
      } else if (c === 47 && src.charCodeAt(p + 1) === 42) {
        p += 2;
        depth++;
      } else p++;
    }
    this.unterminated = true;
    return len;
  }

  /**
   * A string opened at `p - 1` by `quote`; `backslash`: `\` escapes the next character;
   * `ambiguous`: the other reading treats `\` the other way, so note a `\` before `quote`.
   */
  #string(start: number, p: number, quote: number, backslash: boolean, ambiguous: boolean): number {
    const src = this.src;
    const len = src.length;
    this.start = start;
    while (p < len) {
      const c = src.charCodeAt(p);
      if (c === quote) {
        if (p + 1 < len && src.charCodeAt(p + 1) === quote) {
          p += 2;
          continue;
        }
        this.pos = this.end = p + 1;
        return (this.kind = T_STRING);
      }
      if (c === 92) {
        if (ambiguous && src.charCodeAt(p + 1) === quote) this.ambiguousEscape = true;
        if (backslash) {
          p += 2;
          continue;
        }
      }
      p++;
    }
    this.unterminated = true;
    this.pos = this.end = len;
    return (this.kind = T_STRING);
  }

  #quoted(start: number, p: number, quote: number): number {
    const src = this.src;
    const len = src.length;
    while (p < len) {
      if (src.charCodeAt(p) === quote) {
        if (p + 1 < len && src.charCodeAt(p + 1) === quote) {
          p += 2;
          continue;
        }
        this.pos = this.end = p + 1;
        this.start = start;
        return (this.kind = T_QIDENT);
      }
      p++;
    }
    this.unterminated = true;
    this.pos = this.end = len;
    return (this.kind = T_QIDENT);
  }

  /** PostgreSQL `$1`, `$$...$$`, `$tag$...$tag$`, or a lone `$` operator. */
  #dollar(p: number): number {
    const src = this.src;
    const len = src.length;
    let q = p + 1;
    const first = src.charCodeAt(q);
    if (first >= 48 && first <= 57) {
      while (q < len && src.charCodeAt(q) >= 48 && src.charCodeAt(q) <= 57) q++;
      this.pos = this.end = q;
      return (this.kind = T_PARAM);
    }
    if (first !== DOLLAR) {
      if (!(first < 128 ? (CLASS[first]! & WORD_START) !== 0 : q < len)) return this.#single(p, T_OP);
      q++;
      while (q < len) {
        const d = src.charCodeAt(q);
        if (d < 128 && (CLASS[d]! & WORD_PART) === 0) break;
        q++;
      }
      if (q >= len || src.charCodeAt(q) !== DOLLAR) return this.#single(p, T_OP);
    }
    const tag = src.slice(p, q + 1);
    const close = src.indexOf(tag, q + 1);
    if (close < 0) {
      this.unterminated = true;
      this.pos = this.end = len;
    } else this.pos = this.end = close + tag.length;
    return (this.kind = T_STRING);
  }

  /** MySQL `@name`, `@'name'`, `` @`name` ``, `@@name`, `@@session.name`. */
  #variable(p: number): number {
    const src = this.src;
    const len = src.length;
    let q = p + 1;
    if (q < len && src.charCodeAt(q) === 64) q++;
    const c = src.charCodeAt(q);
    if (c === 39 || c === 34 || c === 96) {
      const kind = c === 96 ? this.#quoted(p, q + 1, c) : this.#string(p, q + 1, c, !this.otherEscapes, !this.otherEscapes);
      this.start = p;
      void kind;
      return (this.kind = T_VAR);
    }
    while (q < len) {
      const d = src.charCodeAt(q);
      if (d < 128 && (CLASS[d]! & WORD_PART) === 0 && d !== DOLLAR && d !== 46) break;
      q++;
    }
    this.pos = this.end = q;
    return (this.kind = T_VAR);
  }
}
