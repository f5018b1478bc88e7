import { DbRouterError } from '../errors.js';
import { checkKeys, checkSecret, shown } from '../options.js';

/**
 * How fresh a read must be.
 * - `strong`: the primary.
 * - `session` (the default): read-your-writes — a replica only once it has replayed this context's
 *   last write (or the token it runs under); else the primary, or a bounded wait (`onBehind`).
 * - `{ maxStalenessMillis }` (bounded): a replica known to have replayed everything the primary had
 *   committed that long ago.
 * - `eventual`: any healthy replica.
 */
export type ConsistencyLevel = 'strong' | 'session' | 'eventual' | BoundedStaleness;

/** Bounded staleness: a replica at most this far behind the primary. */
export interface BoundedStaleness {
  /** How far behind the primary a replica may be, in milliseconds; 0 or more. */
  readonly maxStalenessMillis: number;
}

/**
 * The cluster's `consistency` option: a level, or a level with its settings.
 *
 * @example
 *   createCluster({ databases, consistency: { level: 'session', onBehind: 'wait', waitMillis: 200, secret: process.env.DBROUTER_SECRET } })
 */
export interface ConsistencyOptions {
  /** Default `session`. */
  readonly level?: ConsistencyLevel;
  /**
   * Under `session`, when no replica has replayed the context's position yet: `primary` (default)
   * reads from the primary at once; `wait` waits up to `waitMillis` for a replica, then the primary.
   */
  readonly onBehind?: 'primary' | 'wait';
  /** The longest a read waits for a replica under `onBehind: 'wait'`. Default 500. */
  readonly waitMillis?: number;
  /** Time between replay-position polls while waiting (PostgreSQL). Default 5. */
  readonly pollMillis?: number;
  /** A replica's replay position is asked at most this often (shared by every context). Default 10. */
  readonly probeIntervalMillis?: number;
  /** Signs consistency tokens (`consistencyToken()`, `withToken()`); 16 bytes or more. Several: the first signs, all verify. */
  readonly secret?: string | Buffer | ReadonlyArray<string | Buffer>;
  /**
   * Names this cluster in tokens: tokens of another cluster are refused as `foreign`. Default: a
   * hash of the nodes' host:port/database. Set the same value in every service that shares tokens.
   */
  readonly clusterId?: string;
  /** How long a token counts. Default 600000 (10 minutes). */
  readonly tokenMaxAgeMillis?: number;
  /** The longest a synchronous write waits for its replicas to apply it, then `SYNC_TIMEOUT`. Default 10000. */
  readonly synchronousTimeoutMillis?: number;
}

export interface ResolvedConsistency {
  readonly level: ConsistencyLevel;
  readonly onBehind: 'primary' | 'wait';
  readonly waitMillis: number;
  readonly pollMillis: number;
  readonly probeIntervalMillis: number;
  readonly secret: ConsistencyOptions['secret'];
  readonly clusterId: string | undefined;
  readonly tokenMaxAgeMillis: number;
  readonly synchronousTimeoutMillis: number;
}

const OPTION_KEYS = ['level', 'onBehind', 'waitMillis', 'pollMillis', 'probeIntervalMillis', 'secret', 'clusterId', 'tokenMaxAgeMillis', 'synchronousTimeoutMillis', 'maxStalenessMillis'];

function invalid(message: string): DbRouterError {
  return new DbRouterError('CONFIG_INVALID', message);
}

/** Checks a level given by a caller; throws `CONFIG_INVALID` naming what to write instead. */
export function checkLevel(level: unknown, where: string): ConsistencyLevel {
  if (level === 'strong' || level === 'session' || level === 'eventual') return level;
  if (level === 'bounded') throw invalid(`${where}: 'bounded' needs its bound; write { maxStalenessMillis: 500 }.`);
  if (typeof level === 'object' && level !== null && 'maxStalenessMillis' in level) {
    const ms = (level as BoundedStaleness).maxStalenessMillis;
    if (typeof ms === 'number' && ms >= 0 && Number.isFinite(ms)) return { maxStalenessMillis: ms };
    throw invalid(`${where}: maxStalenessMillis must be a number of milliseconds, 0 or more.`);
  }
  throw invalid(`${where}: unknown consistency level ${JSON.stringify(level)}; write 'strong', 'session', 'eventual' or { maxStalenessMillis: 500 }.`);
}

function millis(v: unknown, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw invalid(`consistency.${name} must be a number of milliseconds, 0 or more (such as ${fallback}), not ${shown(v)}.`);
  return v;
}

function checkClusterId(id: unknown): void {
  if (id === undefined) return;
  if (typeof id !== 'string' || id === '' || id.includes('|') || id.length > 128) {
    throw invalid(`consistency.clusterId must be a non-empty string without "|", at most 128 characters, such as 'shop-eu', not ${shown(id)}; set the same value in every service that shares tokens.`);
  }
}

/** The cluster's `consistency` option, validated, with defaults. */
export function resolveConsistency(option: ConsistencyLevel | ConsistencyOptions | undefined): ResolvedConsistency {
  let o: ConsistencyOptions = {};
  if (typeof option === 'string' || (typeof option === 'object' && option !== null && 'maxStalenessMillis' in option && !('level' in option))) {
    o = { level: checkLevel(option, 'consistency') };
  } else if (typeof option === 'object' && option !== null) {
    checkKeys('consistency', option, OPTION_KEYS);
    o = option as ConsistencyOptions;
    if ('maxStalenessMillis' in o) {
      throw invalid(`consistency.maxStalenessMillis goes inside the level: write consistency: { level: { maxStalenessMillis: ${shown((o as BoundedStaleness).maxStalenessMillis)} } }.`);
    }
  } else if (option !== undefined) {
    throw invalid(`consistency must be a level ('strong', 'session', 'eventual', { maxStalenessMillis: 500 }) or an options object such as { level: 'session', secret: process.env.DBROUTER_SECRET }, not ${shown(option)}.`);
  }
  if (o.onBehind !== undefined && o.onBehind !== 'primary' && o.onBehind !== 'wait') {
    throw invalid(`consistency.onBehind must be 'primary' or 'wait', not ${JSON.stringify(o.onBehind)}.`);
  }
  checkSecret('consistency.secret', o.secret);
  checkClusterId(o.clusterId);
  return {
    level: o.level === undefined ? 'session' : checkLevel(o.level, 'consistency.level'),
    onBehind: o.onBehind ?? 'primary',
    waitMillis: millis(o.waitMillis, 'waitMillis', 500),
    pollMillis: Math.max(1, millis(o.pollMillis, 'pollMillis', 5)),
    probeIntervalMillis: millis(o.probeIntervalMillis, 'probeIntervalMillis', 10),
    secret: o.secret,
    clusterId: o.clusterId,
    tokenMaxAgeMillis: millis(o.tokenMaxAgeMillis, 'tokenMaxAgeMillis', 600_000),
    synchronousTimeoutMillis: millis(o.synchronousTimeoutMillis, 'synchronousTimeoutMillis', 10_000),
  };
}

const HINT = /^\s*\/\*\s*dbrouter:(strong|session|eventual|bounded=(\d+))\s*\*\//;

/**
 * A statement's own level, from a leading comment: `/* dbrouter:strong *\/ SELECT …`,
 * `dbrouter:eventual`, `dbrouter:session`, `dbrouter:bounded=500`. Cheap when absent.
 */
export function statementLevel(sql: string): ConsistencyLevel | undefined {
  let i = 0;
  while (i < sql.length && sql.charCodeAt(i) <= 32) i++;
  if (sql.charCodeAt(i) !== 47 || sql.charCodeAt(i + 1) !== 42) return undefined;
  const m = HINT.exec(sql);
  if (!m) return undefined;
  if (m[2] !== undefined) return { maxStalenessMillis: Number(m[2]) };
  return m[1] as 'strong' | 'session' | 'eventual';
}
