import type { Role } from '../routing/router.js';

/**
 * One routed statement, as Django's `connection.queries` entry with its `db`: the SQL text (never
 * its parameters), where it ran and why.
 */
export interface QueryLogEntry {
  /** The statement's text (never its parameters). */
  readonly sql: string;
  /** The node it ran on (the primary for a misroute). */
  readonly alias: string;
  /** That node's role when it ran. */
  readonly role: Role;
  /** Why it went there: the classifier's reason or routing's (see `RouteDecision.reason`). */
  readonly reason: string;
  /** Wall time from sending the statement to its result, including a misroute's retry. */
  readonly durationMillis: number;
  /**
   * Time spent before it was sent: waiting for a primary during a failover, or asking for and
   * waiting on positions for read-your-writes. 0 when it went out at once.
   */
  readonly waitedMillis: number;
  /** A replica refused it as a write and it was re-run on the primary. */
  readonly misroute: boolean;
  /** It failed (the error went to the caller). */
  readonly failed: boolean;
  /**
   * When it failed: the database's response code if a server refused it (SQLSTATE on PostgreSQL,
   * the error number on MySQL/MariaDB), else the client error's code (`ECONNRESET`) or class
   * name. Never the message (it may quote a value).
   */
  readonly errorType?: string;
  /** The database's response code, when a server refused the statement. */
  readonly responseCode?: string;
  /** `Date.now()` when it finished. */
  readonly at: number;
}

/** The payload of a cluster's `'route'` event: one per routed statement. */
export type RouteEvent = QueryLogEntry;

/** Counters of one alias, kept always. */
export interface AliasStats {
  /** Statements this alias ran. */
  readonly statements: number;
  /** Of those, statements that had to run on a primary (writes, session state, transactions). */
  readonly writes: number;
  /** Writes this alias ran after a replica refused them as read-only. */
  readonly misroutes: number;
  /** Statements that failed here (the error went to the caller). */
  readonly errors: number;
  /** Statements by routing reason (`select`, `insert`, `sticky`, …). */
  readonly byReason: Readonly<Record<string, number>>;
}

/**
 * What `cluster.stats()` returns: statement counters since the cluster was created (or since
 * `resetStats()`), per alias and in total. Always kept, debug mode or not.
 *
 * @example
 *   const { byAlias } = cluster.stats();
 *   console.log(byAlias.replica1?.statements, byAlias.default?.byReason.insert);
 */
export interface StatsSnapshot {
  /** Counters of each alias of the cluster (every alias is there, with zeros if it ran nothing). */
  readonly byAlias: Readonly<Record<string, AliasStats>>;
  /** Statements routed, on every alias together. */
  readonly statements: number;
  /** Writes a replica refused as read-only and the primary ran instead, on every alias together. */
  readonly misroutes: number;
}

/** Counters per alias and reason (always on), and a bounded log of statements (debug mode). */
export class Stats {
  readonly #aliases: readonly string[];
  readonly #statements: Float64Array;
  readonly #writes: Float64Array;
  readonly #misroutes: Float64Array;
  readonly #errors: Float64Array;
  readonly #reasons: Map<string, number>[];
  readonly #max: number;
  #log: QueryLogEntry[] = [];
  #next = 0;

  constructor(aliases: readonly string[], maxEntries: number) {
    this.#aliases = aliases;
    const n = aliases.length;
    this.#statements = new Float64Array(n);
    this.#writes = new Float64Array(n);
    this.#misroutes = new Float64Array(n);
    this.#errors = new Float64Array(n);
    this.#reasons = aliases.map(() => new Map<string, number>());
    this.#max = maxEntries;
  }

  get logging(): boolean {
    return this.#max > 0;
  }

  count(index: number, reason: string, write: boolean, misroute: boolean, failed: boolean): void {
    this.#statements[index]!++;
    if (write) this.#writes[index]!++;
    if (misroute) this.#misroutes[index]!++;
    if (failed) this.#errors[index]!++;
    const m = this.#reasons[index]!;
    m.set(reason, (m.get(reason) ?? 0) + 1);
  }

  log(entry: QueryLogEntry): void {
    if (this.#max <= 0) return;
    if (this.#log.length < this.#max) this.#log.push(entry);
    else {
      this.#log[this.#next] = entry;
      this.#next = (this.#next + 1) % this.#max;
    }
  }

  /** The logged statements, oldest first. */
  queries(): readonly QueryLogEntry[] {
    return this.#log.length < this.#max ? [...this.#log] : [...this.#log.slice(this.#next), ...this.#log.slice(0, this.#next)];
  }

  snapshot(): StatsSnapshot {
    const byAlias: Record<string, AliasStats> = {};
    let statements = 0;
    let misroutes = 0;
    this.#aliases.forEach((alias, i) => {
      statements += this.#statements[i]!;
      misroutes += this.#misroutes[i]!;
      byAlias[alias] = {
        statements: this.#statements[i]!,
        writes: this.#writes[i]!,
        misroutes: this.#misroutes[i]!,
        errors: this.#errors[i]!,
        byReason: Object.fromEntries(this.#reasons[i]!),
      };
    });
    return { byAlias, statements, misroutes };
  }

  reset(): void {
    for (const a of [this.#statements, this.#writes, this.#misroutes, this.#errors]) a.fill(0);
    for (const m of this.#reasons) m.clear();
    this.#log = [];
    this.#next = 0;
  }
}
