import { EventEmitter } from 'node:events';
import { Readable, type ReadableOptions } from 'node:stream';
import { DbRouterError } from '../../errors.js';

/** What a mysql2 query resolves to: `[rows or OkPacket, fields]`. */
export type MysqlResult = [unknown, unknown];

/** mysql2's callback: `(err, rows, fields)`. */
export type MysqlCallback = (err: Error | null, rows?: unknown, fields?: unknown) => void;

/** mysql2's core (callback) connection, as much of it as a streamed statement needs. */
export interface CoreConnectionLike {
  query(sql: unknown, values?: unknown): EventEmitter;
  execute?(sql: unknown, values?: unknown): EventEmitter;
  pause?(): void;
  resume?(): void;
}

/**
 * A physical connection chosen for one streamed statement by the routing core, held until `done`.
 * `done(err)` gives back a connection taken only for this statement (destroying it after an
 * error or an early stop, when rows may still be on the wire) and records the statement; a
 * promise it returns (a write's position being captured) settles before `'end'` is emitted.
 */
export interface MysqlLease {
  /** The core connection to run on; `undefined` for a fake driver without one (rows are then buffered). */
  readonly core: CoreConnectionLike | undefined;
  /** Runs the statement buffered on the leased connection (fallback when there is no core connection). */
  run(): Promise<MysqlResult>;
  done(err?: unknown, stoppedEarly?: boolean): Promise<void> | undefined;
}

/** How a {@link RoutedQuery} reaches a node: buffered through the routed path, or streamed on a lease. */
export interface QuerySource {
  /** The whole statement through the routed path (safety net, write hooks, stats). */
  run(): Promise<MysqlResult>;
  /** A connection for a streamed statement (a replica that has replayed the unit of work's position, or the primary for a write). */
  lease(): Promise<MysqlLease>;
  /** `'execute'` for a prepared statement. */
  readonly method: 'query' | 'execute';
}

/** mysql2's fields of several result sets: one entry per set, an array of columns or `undefined` (an OK packet). */
function isMultiResult(fields: unknown): fields is readonly unknown[] {
  return Array.isArray(fields) && fields.length > 0 && fields.every((f) => f === undefined || Array.isArray(f));
}

/** @internal A routed connection's `pause()`/`resume()` on its open statements. */
export const PAUSE_ROWS = Symbol('dbrouter.mysql.pauseRows');

const NOT_STARTED = 0;
const BUFFERED = 1;
const STREAMED = 2;

/**
 * What mysql2's callback API returns from `query()`/`execute()`: an EventEmitter with `'fields'`,
 * `'result'` (one per row, or the OkPacket), `'end'` and `'error'`, and `.stream()` for a
 * Readable of rows. Libraries call `.setMaxListeners` on it (Sequelize), `.stream()` (Kysely,
 * Knex, Drizzle's iterators) or listen to its events.
 *
 * Unlike mysql2's, it is also a thenable: `await conn.query(sql)` resolves to `[rows, fields]`,
 * so one object serves both of mysql2's APIs.
 *
 * How it runs is decided on the next tick, after the caller had the chance to call `.stream()`:
 * with `.stream()` or a `'result'` listener and no callback, rows stream from a connection held
 * for the statement's life (on a replica that has replayed the unit of work's position, or on
 * the primary for a write) and released on end, on error and on an early stop; otherwise the
 * statement runs through the routed path like a promise query and the events follow its result.
 */
export class RoutedQuery<R = MysqlResult> extends EventEmitter implements Promise<R> {
  /** `'Query'` (mysql2's class name): the tag a `Promise` implementation must have; `String(query)` gives `[object Query]`. */
  readonly [Symbol.toStringTag] = 'Query';
  /** In mysql2's typings only: `undefined` on its own `Query` at run time, as here. */
  declare readonly determinePacket: (firstByte: number, parser: unknown) => unknown;
  /** The statement text, as mysql2's `Query.sql`. */
  readonly sql: string;
  /** The values bound to it, as mysql2's `Query.values`. */
  readonly values: unknown;
  readonly #source: QuerySource;
  readonly #input: unknown;
  readonly #callback: MysqlCallback | undefined;
  #mode = NOT_STARTED;
  #promise: Promise<MysqlResult> | undefined;
  #streams = 0;
  #core: CoreConnectionLike | undefined;
  #abort: (() => void) | undefined;
  #stopped = false;
  #finished = false;
  /** Its connection's `pause()`: rows stop until `resume()`. */
  #paused = false;
  readonly #readables = new Set<Readable>();

  /** @internal Routed queries come from a routed pool's or connection's `query()` / `execute()`. */
  constructor(sql: string, input: unknown, values: unknown, source: QuerySource, callback?: MysqlCallback) {
    super();
    this.sql = sql;
    this.#input = input;
    this.values = values;
    this.#source = source;
    this.#callback = callback;
    if (callback !== undefined) void this.#buffered();
    else process.nextTick(() => this.#start());
  }

  #start(): void {
    if (this.#mode !== NOT_STARTED) return;
    if (this.#streams > 0 || this.listenerCount('result') > 0) this.#streamed();
    else void this.#buffered();
  }

  #buffered(): Promise<MysqlResult> {
    if (this.#promise !== undefined) return this.#promise;
    this.#mode = BUFFERED;
    const p = this.#source.run();
    this.#promise = p;
    p.then(
      ([rows, fields]) => {
        this.#callback?.(null, rows, fields);
        this.#emitAll(rows, fields);
      },
      (err: Error) => {
        if (this.#callback !== undefined) this.#callback(err);
        else this.#error(err);
        this.#end();
      },
    );
    return p;
  }

  #emitAll(rows: unknown, fields: unknown): void {
    if (Array.isArray(rows) && isMultiResult(fields)) {
      // Several result sets (multipleStatements, CALL): mysql2 emits each set's 'fields' then its
      // rows with the set's index; an OK packet's set as 'fields' undefined then its header.
      for (const [i, f] of fields.entries()) {
        const set: unknown = rows[i];
        if (f === undefined || !Array.isArray(set)) {
          this.emit('fields', undefined);
          this.emit('result', set);
          continue;
        }
        this.emit('fields', f, i);
        for (const row of set) this.emit('result', row, i);
      }
      this.#end();
      return;
    }
    if (Array.isArray(rows) && fields !== undefined) {
      this.emit('fields', fields, 0);
      for (const row of rows) this.emit('result', row, 0);
    } else {
      this.emit('fields', undefined);
      this.emit('result', rows, 0);
    }
    this.#end();
  }

  #end(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.emit('end');
  }

  #error(err: unknown): void {
    // mysql2 emits 'error' only without a callback; an unheard 'error' must not crash the process
    // when the caller awaits the query instead (the promise carries it).
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  #streamed(): void {
    this.#mode = STREAMED;
    this.#source.lease().then(
      (lease) => {
        if (this.#stopped) {
          void lease.done();
          this.#end();
          return;
        }
        const core = lease.core;
        if (core === undefined) {
          // A driver without a core connection: the rows arrive at once.
          lease.run().then(
            ([r, f]) => {
              const p = lease.done();
              if (p !== undefined) p.then(() => this.#emitAll(r, f), (e: unknown) => this.#fail(e));
              else this.#emitAll(r, f);
            },
            (e: unknown) => {
              void lease.done(e);
              this.#fail(e);
            },
          );
          return;
        }
        this.#core = core;
        const cmd = this.#source.method === 'execute' && core.execute !== undefined ? core.execute(this.#input, this.values) : core.query(this.#input, this.values);
        if (this.#paused) core.pause?.();
        let failed = false;
        this.#abort = () => {
          this.#abort = undefined;
          if (!failed && !this.#finished) {
            failed = true;
            cmd.removeAllListeners('result');
            cmd.on('error', () => {});
            void lease.done(undefined, true);
            // Stopped early: it has ended for its caller (and a connection's next statement may go).
            this.#end();
          }
        };
        cmd.on('fields', (f: unknown, i: unknown) => this.emit('fields', f, i));
        cmd.on('result', (row: unknown, i: unknown) => this.emit('result', row, i));
        cmd.on('error', (err: unknown) => {
          if (failed) return;
          failed = true;
          this.#abort = undefined;
          void lease.done(err);
          this.#fail(err);
        });
        cmd.on('end', () => {
          if (failed) return;
          this.#abort = undefined;
          const p = lease.done();
          if (p !== undefined) p.then(() => this.#end(), (e: unknown) => this.#fail(e));
          else this.#end();
        });
      },
      (err: unknown) => this.#fail(err),
    );
  }

  #fail(err: unknown): void {
    this.#error(err);
    this.#end();
  }

  /**
   * A Readable (object mode) of the rows, as mysql2's `Query.stream()`. Backpressure pauses the
   * held connection; destroying the stream early gives that connection back (destroyed, since
   * rows may still be on the wire, unless a transaction holds it).
   */
  stream(options: ReadableOptions = {}): Readable {
    this.#streams++;
    const readable = this.#readable(options);
    this.#readables.add(readable);
    readable.once('close', () => this.#readables.delete(readable));
    return readable;
  }

  /**
   * Stops the statement: its streams are destroyed and a connection held for it goes back. What
   * a routed connection does to its open statements when it is released or ended (Drizzle's
   * iterator ends the connection without closing the stream it stopped reading).
   */
  close(): void {
    if (this.#finished) return;
    for (const r of this.#readables) r.destroy();
    if (!this.#finished) this.#stop();
  }

  #readable(options: ReadableOptions): Readable {
    const stream = new Readable({
      ...options,
      objectMode: true,
      emitClose: true,
      autoDestroy: true,
      read: () => {
        if (!this.#paused) this.#core?.resume?.();
      },
    });
    // mysql2 emits 'end' on a stream closed before its end; some callers wait for it.
    stream.once('close', () => {
      if (!stream.readableEnded) stream.emit('end');
    });
    const onResult = (row: unknown, index: unknown) => {
      if (stream.destroyed) return;
      if (!stream.push(row)) this.#core?.pause?.();
      stream.emit('result', row, index);
    };
    const onFields = (fields: unknown) => {
      if (!stream.destroyed) stream.emit('fields', fields);
    };
    const onEnd = () => {
      if (!stream.destroyed) stream.push(null);
    };
    const onError = (err: Error) => stream.destroy(err);
    stream._destroy = (err, cb) => {
      this.#core?.resume?.();
      this.removeListener('result', onResult);
      this.removeListener('fields', onFields);
      this.removeListener('end', onEnd);
      this.removeListener('error', onError);
      if (!this.#finished) this.#stop();
      cb(err);
    };
    this.on('result', onResult);
    this.on('fields', onFields);
    this.on('end', onEnd);
    this.on('error', onError);
    return stream;
  }

  /** @internal Pauses (`true`) or resumes the rows streamed from its connection (see `RoutedMysqlConnection.pause`). */
  [PAUSE_ROWS](paused: boolean): void {
    if (this.#paused === paused) return;
    this.#paused = paused;
    if (paused) this.#core?.pause?.();
    else this.#core?.resume?.();
  }

  /** Stopped before its end: the held connection goes back now. */
  #stop(): void {
    this.#stopped = true;
    this.#abort?.();
  }

  /**
   * mysql2's packet state machine starts a query when its connection sends it; a routed query
   * starts itself on the next tick. Calling it would be meaningless: `UNSUPPORTED`.
   */
  start(): void {
    throw new DbRouterError('UNSUPPORTED', 'Query.start() is part of mysql2\'s protocol state machine; a routed query starts itself. Listen to its events, call .stream(), or await it.');
  }

  /** Resolves to `[rows, fields]`, as `mysql2/promise`'s `query()`. */
  then<T1 = R, T2 = never>(onFulfilled?: ((value: R) => T1 | PromiseLike<T1>) | null, onRejected?: ((reason: unknown) => T2 | PromiseLike<T2>) | null): Promise<T1 | T2> {
    return this.#asPromise().then(onFulfilled, onRejected);
  }

  catch<T = never>(onRejected?: ((reason: unknown) => T | PromiseLike<T>) | null): Promise<R | T> {
    return this.#asPromise().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<R> {
    return this.#asPromise().finally(onFinally);
  }

  // R is the caller's claim about the rows (mysql2's `query<T>()`), as with mysql2 itself.
  #asPromise(): Promise<R> {
    if (this.#mode === STREAMED) {
      return Promise.reject(new TypeError('This query streams its rows (.stream() or a "result" listener): read them there, not with await.'));
    }
    return this.#buffered() as Promise<unknown> as Promise<R>;
  }
}

/**
 * What the callback forms of `query()`/`execute()` return: mysql2's `Query` (events, `.stream()`),
 * typed without `then` so a callback call is not taken for a floating promise.
 */
export type MysqlQuery = Omit<RoutedQuery<unknown>, 'then' | 'catch' | 'finally' | typeof Symbol.toStringTag>;

