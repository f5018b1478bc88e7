import { DbRouterError } from './errors.js';

// Checks shared by every public constructor and factory, so that a configuration mistake fails
// where it is written (CONFIG_INVALID naming the key and what to write) instead of as a TypeError,
// a URIError or a silent misbehaviour later. Depends on nothing but errors.ts: any layer may use it.

/** A `CONFIG_INVALID` error. */
export function invalidConfig(message: string): DbRouterError {
  return new DbRouterError('CONFIG_INVALID', message);
}

function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, i) => i);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[y.length] ?? 0;
}

/**
 * The end of a message about an unknown name: `did you mean "routers"?`, `write host instead.` or
 * `known keys: a, b.` Each form ends with its own punctuation: append nothing after it.
 */
export function suggest(key: string, known: readonly string[], synonyms: Readonly<Record<string, string>> = {}, noun = 'keys'): string {
  const synonym = Object.hasOwn(synonyms, key) ? synonyms[key] : undefined;
  if (synonym !== undefined) return `write ${synonym} instead.`;
  // Our durations carry their unit: `maxReplicationLag` means `maxReplicationLagMillis`.
  if (known.includes(`${key}Millis`)) return `write ${key}Millis instead (every duration is in milliseconds).`;
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(key, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  if (best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 3))) return `did you mean "${best}"?`;
  const longer = key.length >= 3 ? known.filter((k) => k.toLowerCase().startsWith(key.toLowerCase())) : [];
  if (longer.length === 1) return `did you mean "${longer[0]}"?`;
  return `known ${noun}: ${known.join(', ')}.`;
}

/** Shows a value a user wrote, short, for a message (never used for secrets). */
export function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/** Throws unless `value` is a plain object (not null, not an array). `example` shows what to write. */
export function checkObject(where: string, value: unknown, example: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidConfig(`${where} must be an object such as ${example}, not ${shown(value)}.`);
  }
}

/** Throws on a key of `value` that is not in `known`, suggesting the nearest one. */
export function checkKeys(where: string, value: object, known: readonly string[], synonyms: Readonly<Record<string, string>> = {}): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw invalidConfig(`Unknown key "${key}" in ${where}; ${suggest(key, known, synonyms)}`);
  }
}

/** An options object: `undefined` reads as `{}`; anything else must be an object with only `known` keys. */
export function checkOptions(where: string, value: unknown, known: readonly string[], example: string, synonyms?: Readonly<Record<string, string>>): Record<string, unknown> {
  if (value === undefined) return {};
  checkObject(where, value, example);
  checkKeys(where, value, known, synonyms);
  return value;
}

/** A duration in milliseconds: a finite number ≥ `min` (default 0), or `undefined`. */
export function checkMillis(where: string, value: unknown, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw invalidConfig(`${where} must be a number of milliseconds${min > 0 ? ` greater than or equal to ${min}` : ', 0 or more'} (such as ${Math.max(min, 1000)}), not ${shown(value)}.`);
  }
  return value;
}

/** A whole number from `min` to `max`, or `undefined`. */
export function checkWhole(where: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER, example = Math.max(min, 1)): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw invalidConfig(`${where} must be a whole number ${range} (such as ${example}), not ${shown(value)}.`);
  }
  return value;
}

/** A boolean, or `undefined`. */
export function checkBoolean(where: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw invalidConfig(`${where} must be true or false, not ${shown(value)}.`);
  return value;
}

/** A function, or `undefined`. */
export function checkFunction(where: string, value: unknown, example: string): void {
  if (value !== undefined && typeof value !== 'function') throw invalidConfig(`${where} must be a function such as ${example}, not ${shown(value)}.`);
}

/** A non-empty string, or `undefined`. */
export function checkString(where: string, value: unknown, example: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw invalidConfig(`${where} must be a non-empty string such as ${example}, not ${shown(value)}.`);
  return value;
}

/** One of `choices`, or `undefined`. */
export function checkChoice<T extends string>(where: string, value: unknown, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T;
  const hint = typeof value === 'string' ? ` ${suggest(value, choices, {}, 'values')}` : '';
  throw invalidConfig(`${where} must be one of ${choices.map((c) => `'${c}'`).join(', ')}, not ${shown(value)}.${hint}`);
}

/**
 * A secret that signs consistency tokens: a string or Buffer of 16 bytes or more, or a non-empty
 * array of them (the first signs, all verify). The message never repeats the secret.
 */
export function checkSecret(where: string, value: unknown): void {
  if (value === undefined) return;
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  if (list.length === 0) throw invalidConfig(`${where} is an empty array; give one secret of 16 bytes or more (such as process.env.DBROUTER_SECRET), or several for rotation.`);
  for (const s of list) {
    if (typeof s !== 'string' && !Buffer.isBuffer(s)) {
      throw invalidConfig(`${where} must be a string or Buffer of 16 bytes or more (such as process.env.DBROUTER_SECRET holding 32 random bytes), not ${typeof s === 'number' ? 'a number' : shown(s === null ? null : typeof s)}.`);
    }
    const bytes = typeof s === 'string' ? Buffer.byteLength(s, 'utf8') : s.length;
    if (bytes < 16) throw invalidConfig(`${where} is ${bytes} bytes long; a secret needs 16 bytes or more (for example 32 random bytes: openssl rand -base64 32).`);
  }
}
