import { createHmac, timingSafeEqual } from 'node:crypto';
import { DbRouterError } from '../errors.js';

/**
 * Consistency tokens: an opaque, compact, signed string that names the last write position a
 * user, a job or another service has seen, so a later read can be served by a replica only once
 * that replica has replayed it.
 *
 * Format: `v1.<payload>.<signature>`, both base64url; the payload is `clusterId|position|issuedAtSeconds`
 * and the signature an HMAC-SHA256 (truncated to 128 bits) over `v1.<payload>`, keyed by the
 * user's secret. Signing uses node:crypto (HMAC + timingSafeEqual), the same primitive cookie
 * signing libraries wrap; we need our own framing to carry the cluster and the expiry anyway.
 *
 * A token that is malformed, oversized, tampered with, expired or issued for another cluster is
 * never trusted: `decode` says why, and the caller ignores it (and counts it).
 *
 * @example
 *   const codec = new TokenCodec({ secret: process.env.DBROUTER_SECRET!, clusterId: cluster.id })
 *   const token = codec.encode('0/3000148')
 *   codec.decode(token) // { ok: true, position: '0/3000148', issuedAtMillis: ... }
 */
export interface TokenCodecOptions {
  /** One secret, or several for rotation: the first signs, all verify. */
  readonly secret: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Identifies the cluster that issued the token; tokens of another cluster are refused. */
  readonly clusterId: string;
  /** How long a token counts after it was issued. Default 10 minutes. */
  readonly maxAgeMillis?: number;
  /** Longest accepted token, in characters. Default 512. */
  readonly maxLength?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

/**
 * Why a consistency token was not trusted (it is then ignored, and counted in
 * `cluster.consistencyStats().tokens.rejected`):
 * - `malformed`: not a `v1.<payload>.<signature>` token, or its payload unreadable;
 * - `oversized`: longer than the accepted maximum (512 characters by default);
 * - `tampered`: its signature does not match any configured secret;
 * - `expired`: issued longer ago than `maxAgeMillis` (10 minutes by default), or more than a
 *   minute in the future;
 * - `foreign`: issued by another cluster.
 */
export type TokenRejection = 'malformed' | 'oversized' | 'tampered' | 'expired' | 'foreign';

export type DecodedToken =
  | { readonly ok: true; readonly position: string; readonly issuedAtMillis: number }
  | { readonly ok: false; readonly reason: TokenRejection };

const VERSION = 'v1';
const SIGNATURE_BYTES = 16;

export class TokenCodec {
  readonly #keys: readonly Buffer[];
  readonly #clusterId: string;
  readonly #maxAgeMillis: number;
  readonly #maxLength: number;
  readonly #now: () => number;

  constructor(options: TokenCodecOptions) {
    const secrets = Array.isArray(options.secret) ? options.secret : [options.secret];
    const keys = (secrets as ReadonlyArray<string | Buffer>).map((s) => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s));
    if (keys.length === 0 || keys.some((k) => k.length < 16)) {
      throw new DbRouterError(
        'SECRET_MISSING',
        'consistency tokens need a secret of at least 16 bytes: set `secret` (for example from an environment variable holding 32 random bytes)',
      );
    }
    if (options.clusterId.includes('|') || options.clusterId === '') {
      throw new DbRouterError('CONFIG_INVALID', 'token clusterId must be a non-empty string without "|"');
    }
    this.#keys = keys;
    this.#clusterId = options.clusterId;
    this.#maxAgeMillis = options.maxAgeMillis ?? 10 * 60_000;
    this.#maxLength = options.maxLength ?? 512;
    this.#now = options.now ?? Date.now;
  }

  encode(position: string, issuedAtMillis = this.#now()): string {
    const payload = Buffer.from(`${this.#clusterId}|${position}|${Math.floor(issuedAtMillis / 1000)}`, 'utf8').toString('base64url');
    const signed = `${VERSION}.${payload}`;
    return `${signed}.${sign(this.#keys[0]!, signed)}`;
  }

  decode(token: unknown): DecodedToken {
    if (typeof token !== 'string' || token === '') return { ok: false, reason: 'malformed' };
    if (token.length > this.#maxLength) return { ok: false, reason: 'oversized' };
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== VERSION) return { ok: false, reason: 'malformed' };
    const signed = `${parts[0]}.${parts[1]}`;
    const given = Buffer.from(parts[2]!, 'base64url');
    if (given.length !== SIGNATURE_BYTES) return { ok: false, reason: 'malformed' };
    const valid = this.#keys.some((k) => timingSafeEqual(Buffer.from(sign(k, signed), 'base64url'), given));
    if (!valid) return { ok: false, reason: 'tampered' };
    const fields = Buffer.from(parts[1]!, 'base64url').toString('utf8').split('|');
    if (fields.length !== 3) return { ok: false, reason: 'malformed' };
    const [clusterId, position, issued] = fields as [string, string, string];
    if (clusterId !== this.#clusterId) return { ok: false, reason: 'foreign' };
    const issuedAtMillis = Number(issued) * 1000;
    if (!Number.isSafeInteger(issuedAtMillis) || position === '') return { ok: false, reason: 'malformed' };
    const age = this.#now() - issuedAtMillis;
    if (age > this.#maxAgeMillis || age < -60_000) return { ok: false, reason: 'expired' };
    return { ok: true, position, issuedAtMillis };
  }
}

function sign(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data).digest().subarray(0, SIGNATURE_BYTES).toString('base64url');
}
