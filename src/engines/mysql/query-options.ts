/** The part of mysql2's `typeCast` field a cast needs. */
interface CastField {
  readonly type?: string;
  readonly extendedFormat?: string;
  string(encoding?: string): string | null;
}

type TypeCast = (field: CastField, next: () => unknown) => unknown;

const DECIMAL_TYPES = new Set(['DECIMAL', 'NEWDECIMAL']);

/**
 * mysql2's timezone as its `ConnectionConfig` keeps it: `local`, `Z` or `±hh:mm` (a leading space,
 * a `+` lost in a URL, becomes `+`); anything else is `Z`. Its parsers use the option as given, so a
 * `timezone: 'utc'` passed through unchanged would read every date as `Invalid Date`.
 */
function normalizeTimezone(tz: unknown): unknown {
  if (typeof tz !== 'string' || tz === '') return tz;
  if (!/^(?:local|Z|[ +-]\d\d:\d\d)$/.test(tz)) return 'Z';
  return tz.startsWith(' ') ? `+${tz.slice(1)}` : tz;
}

/**
 * mysql2's per-query options as the statements of a routed pool or connection send them.
 *
 * `decimalNumbers` and `jsonStrings` are read by mysql2's parsers from the *connection's* config,
 * never from a statement's options, and a routed pool's statements run on node connections
 * configured by the cluster: given to a driver module's `createPool`/`createConnection` they would
 * do nothing. They become a `typeCast` (composed with the caller's own, which sees them applied in
 * `next()`, as with mysql2) that decodes DECIMAL columns as numbers and returns JSON as its text.
 */
export function statementOptions(options: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  const out: Record<string, unknown> = { ...options };
  if (out.timezone !== undefined) out.timezone = normalizeTimezone(out.timezone);
  const decimals = out.decimalNumbers === true;
  const jsonText = out.jsonStrings === true;
  const own = out.typeCast;
  if ((!decimals && !jsonText) || own === false) return out;
  const cast = (field: CastField, next: () => unknown): unknown => {
    if (decimals && field.type !== undefined && DECIMAL_TYPES.has(field.type)) {
      const s = field.string();
      return s === null ? null : Number(s);
    }
    // MariaDB sends JSON as LONGTEXT, marked only in its extended metadata; MySQL's JSON is binary-charset text.
    if (jsonText && (field.type === 'JSON' || field.extendedFormat === 'json')) return field.string('utf8');
    return next();
  };
  out.typeCast = typeof own === 'function' ? ((field: CastField, next: () => unknown) => (own as TypeCast)(field, () => cast(field, next))) : cast;
  return out;
}

/** `options` with its timezone as mysql2's `ConnectionConfig` would keep it (see {@link statementOptions}). */
export function configOptions(options: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  return options.timezone === undefined ? options : { ...options, timezone: normalizeTimezone(options.timezone) };
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** The offset of `timezone` (`Z` or `±hh:mm`) in minutes. */
function offsetOf(timezone: string): number {
  const m = /^([+-])(\d\d):(\d\d)$/.exec(timezone);
  return m === null ? 0 : (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

/** A `Date` as mysql2 writes it for a connection in `timezone` (`Z` or `±hh:mm`). */
function dateText(date: Date, timezone: string): string {
  const d = new Date(date.getTime() + offsetOf(timezone) * 60000);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Statement values with their `Date`s written in `timezone`, which mysql2 would take from the
 * connection's config (a driver module's `createConnection({ timezone })`) but a routed statement
 * runs on a node connection configured by the cluster (mysql2's default, `local`). For `query` each
 * date becomes an SQL literal (`raw`, placed by mysql2's own formatting, nested arrays and `SET ?`
 * objects included). For `execute` it stays a DATETIME parameter (a string would change what
 * `UNIX_TIMESTAMP(?)` returns): a `Date` whose local time is the wall time in `timezone`, which is
 * what the node connection sends; a wall time inside the machine's own daylight-saving gap does not
 * exist locally and moves by the gap. `values` itself when it holds no date, or when `timezone` is
 * `local` (the nodes' own).
 */
export function datesInTimezone(values: unknown, timezone: unknown, literal: ((sql: string) => unknown) | undefined): unknown {
  if (typeof timezone !== 'string' || timezone === 'local') return values;
  const convert = (v: unknown, depth: number): unknown => {
    if (v instanceof Date) {
      if (Number.isNaN(v.getTime())) return v;
      if (literal !== undefined) return literal(`'${dateText(v, timezone)}'`);
      const w = new Date(v.getTime() + offsetOf(timezone) * 60000);
      return new Date(w.getUTCFullYear(), w.getUTCMonth(), w.getUTCDate(), w.getUTCHours(), w.getUTCMinutes(), w.getUTCSeconds(), w.getUTCMilliseconds());
    }
    if (depth > 2) return v;
    if (Array.isArray(v)) {
      const arr = v as readonly unknown[];
      let out: unknown[] | undefined;
      for (let i = 0; i < arr.length; i++) {
        const c = convert(arr[i], depth + 1);
        if (c !== arr[i]) (out ??= [...arr])[i] = c;
      }
      return out ?? v;
    }
    if (isPlainObject(v)) {
      let out: Record<string, unknown> | undefined;
      for (const [k, x] of Object.entries(v)) {
        const c = convert(x, depth + 1);
        if (c !== x) (out ??= { ...v })[k] = c;
      }
      return out ?? v;
    }
    return v;
  };
  return convert(values, 0);
}
