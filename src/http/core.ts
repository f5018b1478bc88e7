import { randomBytes } from 'node:crypto';
// Cookies are parsed and written with the `cookie` package (jshttp, the one Express and Koa use):
// cookie headers have enough corner cases (quoting, duplicate names, encoding, attribute syntax)
// that a hand-written parser would be a liability in a security-relevant path.
import { parseCookie, stringifySetCookie } from 'cookie';
import type { Cluster } from '../cluster/cluster.js';
import { CONSISTENCY } from '../routing/contracts.js';
import type { ConsistencyLayer } from '../consistency/consistency.js';
import { checkLevel, type ConsistencyLevel } from '../consistency/levels.js';
import type { ConsistencyScope } from '../consistency/session.js';
import type { TokenCodec } from '../consistency/token.js';
import { DbRouterError } from '../errors.js';
import { runInScope } from '../routing/scopes.js';
import { checkHttpOptions } from './options.js';

/**
 * Options of every HTTP integration (`dbrouter/express`, `dbrouter/fastify`, `dbrouter/koa`,
 * `dbrouter/hono`).
 *
 * @example
 *   app.use(expressConsistency({ cluster, secret: process.env.DBROUTER_SECRET }));
 */
export interface HttpConsistencyOptions {
  /** The cluster whose writes the token tracks and whose reads wait for it. */
  readonly cluster: Cluster;
  /**
   * Signs the token in the cookie and the header (HMAC-SHA256), 16 bytes or more; several for
   * rotation (the first signs). Default: the cluster's `consistency.secret`. Required unless
   * `development: true` (`SECRET_MISSING` at start).
   */
  readonly secret?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Without a secret, sign with a random one per process (tokens die with the process). Never in production. */
  readonly development?: boolean;
  /** Default `dbrouter_ryw`. */
  readonly cookieName?: string;
  /** Request and response header carrying the token for APIs and single-page apps. Default `X-DBRouter-Token`. */
  readonly headerName?: string;
  /** Cookie attributes besides `HttpOnly`, `SameSite=Lax`, `Path=/`, `Max-Age`; `false` sends no cookie (header only). */
  readonly cookie?: false | {
    /** Adds `Secure` (HTTPS only). Default: left out. */
    readonly secure?: boolean;
    /** `Domain`, to share the cookie with subdomains. Default: left out (this host only). */
    readonly domain?: string;
    /** `Path`. Default `/`. */
    readonly path?: string;
    /** `SameSite`. Default `lax`; browsers accept `none` only with `secure`. */
    readonly sameSite?: 'lax' | 'strict' | 'none';
  };
  /** How long a token (and its cookie) counts. Default: the cluster's `tokenMaxAgeMillis` (10 minutes). */
  readonly maxAgeMillis?: number;
  /** Level of GET, HEAD and OPTIONS. Default `session`. */
  readonly safeMethods?: ConsistencyLevel;
  /** Level of every other method. Default `strong`: the whole request on the primary. */
  readonly unsafeMethods?: ConsistencyLevel;
  /** Per route: a level for this request, or `undefined` for the method's default (as django-replicated's per-view decorators). */
  readonly route?: (request: { readonly method: string; readonly path: string }) => ConsistencyLevel | undefined;
}

/** What one request hands to its framework's response. */
export interface RequestOutcome {
  readonly token: string;
  /** A `Set-Cookie` value, unless cookies are off. */
  readonly setCookie: string | undefined;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** One request's unit of work. */
export class RequestUnit {
  readonly #owner: HttpConsistency;
  readonly scope: ConsistencyScope;

  constructor(owner: HttpConsistency, scope: ConsistencyScope) {
    this.#owner = owner;
    this.scope = scope;
  }

  /** Runs the rest of the request (the framework's `next`) inside its unit of work. */
  run<R>(fn: () => R): R {
    return runInScope({ mode: 'auto', consistency: this.scope }, fn);
  }

  /** The token to send, when the request wrote: `undefined` (nothing to send), a value, or a promise (one round trip to the primary). */
  outcome(): RequestOutcome | undefined | Promise<RequestOutcome | undefined> {
    return this.#owner.outcome(this.scope);
  }
}

/**
 * The part of the HTTP integrations that does not depend on the framework: reading the token
 * from the header or the cookie, choosing the level, and making the response's token and cookie.
 */
export class HttpConsistency {
  readonly #layer: ConsistencyLayer;
  readonly #codec: TokenCodec;
  readonly #cookieName: string;
  readonly #headerName: string;
  readonly #cookie: NonNullable<HttpConsistencyOptions['cookie']>;
  readonly #maxAgeSeconds: number;
  readonly #safe: ConsistencyLevel;
  readonly #unsafe: ConsistencyLevel;
  readonly #route: HttpConsistencyOptions['route'];

  constructor(options: HttpConsistencyOptions, where: string) {
    checkHttpOptions(options, where);
    const cluster = options?.cluster as Cluster | undefined;
    const layer = (cluster as { [CONSISTENCY]?: ConsistencyLayer } | undefined)?.[CONSISTENCY];
    if (layer === undefined) throw new DbRouterError('CONFIG_INVALID', `${where}: pass the cluster: ${where}({ cluster, secret }).`);
    this.#layer = layer;
    let secret = options.secret ?? layer.options.secret;
    if (secret === undefined) {
      if (options.development !== true) {
        throw new DbRouterError('SECRET_MISSING', `${where}: the read-your-writes cookie and header are signed; pass secret (16 bytes or more, for example process.env.DBROUTER_SECRET) or set consistency.secret on the cluster. In development only, pass development: true to sign with a random per-process secret.`);
      }
      secret = randomBytes(32);
    }
    const maxAge = options.maxAgeMillis ?? layer.options.tokenMaxAgeMillis;
    this.#codec = layer.makeCodec(secret, maxAge);
    this.#maxAgeSeconds = Math.max(1, Math.floor(maxAge / 1000));
    this.#cookieName = options.cookieName ?? 'dbrouter_ryw';
    this.#headerName = (options.headerName ?? 'X-DBRouter-Token').toLowerCase();
    this.#cookie = options.cookie ?? {};
    this.#safe = checkLevel(options.safeMethods ?? 'session', `${where} safeMethods`);
    this.#unsafe = checkLevel(options.unsafeMethods ?? 'strong', `${where} unsafeMethods`);
    this.#route = options.route;
  }

  /** The response header's name, lower case. */
  get headerName(): string {
    return this.#headerName;
  }

  /**
   * Starts one request: the token from the header (APIs) or else the cookie; a token that does
   * not verify is ignored and counted. `level` is a per-route choice that wins over `route()`.
   */
  start(method: string, path: string, cookieHeader: string | undefined, headerToken: string | undefined, signal: AbortSignal | undefined, level?: ConsistencyLevel): RequestUnit {
    let token = headerToken;
    if ((token === undefined || token === '') && cookieHeader !== undefined && cookieHeader !== '' && this.#cookie !== false) {
      token = parseCookie(cookieHeader)[this.#cookieName];
    }
    const position = this.#layer.accept(token, this.#codec);
    const m = method.toUpperCase();
    const chosen = level ?? this.#route?.({ method: m, path }) ?? (SAFE.has(m) ? this.#safe : this.#unsafe);
    return new RequestUnit(this, this.#layer.openScope(position, chosen, signal));
  }

  outcome(scope: ConsistencyScope): RequestOutcome | undefined | Promise<RequestOutcome | undefined> {
    switch (this.#layer.wroteIn(scope)) {
      case 'no':
        return undefined;
      case 'ready':
        return this.#made(this.#layer.tokenNow(scope, this.#codec));
      case 'capture':
        return this.#layer.tokenFor(scope, this.#codec).then((t) => this.#made(t));
    }
  }

  #made(token: string | undefined): RequestOutcome | undefined {
    if (token === undefined) return undefined;
    const c = this.#cookie;
    if (c === false) return { token, setCookie: undefined };
    const setCookie = stringifySetCookie(this.#cookieName, token, {
      httpOnly: true,
      sameSite: c.sameSite ?? 'lax',
      path: c.path ?? '/',
      maxAge: this.#maxAgeSeconds,
      ...(c.secure !== undefined ? { secure: c.secure } : {}),
      ...(c.domain !== undefined ? { domain: c.domain } : {}),
    });
    return { token, setCookie };
  }
}

/** Adds a `Set-Cookie` value to a Node response without dropping ones already set. */
export function appendSetCookie(res: { getHeader(name: string): unknown; setHeader(name: string, value: string | string[]): unknown }, value: string): void {
  const prev = res.getHeader('set-cookie');
  const list = Array.isArray(prev) ? prev.map(String) : typeof prev === 'string' || typeof prev === 'number' ? [String(prev)] : [];
  res.setHeader('set-cookie', [...list, value]);
}
