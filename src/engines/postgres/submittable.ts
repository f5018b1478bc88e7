/**
 * node-postgres submittables (`pg-cursor`, `pg-query-stream`, and the streams of Kysely, Knex,
 * TypeORM, Slonik built on them) on a routed connection. The driver drives a submittable through
 * `handle*` callbacks on the object itself; the stream is over when it gets `handleReadyForQuery`
 * (finished or closed) or `handleError` (pg clears it as the active query then).
 */

/** A node-postgres submittable: an object with `submit(connection)` and the `handle*` callbacks. */
export interface SubmittableLike {
  submit(connection: never): void;
  handleReadyForQuery?: (...a: unknown[]) => void;
  handleError?: (err: unknown, ...a: unknown[]) => void;
}

/** A node client that takes a submittable, as `pg.Client#query` does. */
interface SubmitTarget {
  query(submittable: unknown): unknown;
}

interface CursorLike {
  text?: unknown;
  state?: unknown;
  close?: (cb?: (err?: Error) => void) => unknown;
}

/** True for a cursor, a stream or a `pg.Query`: anything with `submit`. */
export function isSubmittable(x: unknown): x is SubmittableLike {
  return typeof x === 'object' && x !== null && typeof (x as { submit?: unknown }).submit === 'function';
}

/** The SQL a submittable will run: `pg-cursor` and `pg.Query` keep it in `text`, `pg-query-stream` in `cursor.text`. */
export function submittableText(sub: SubmittableLike): string | undefined {
  const own = (sub as CursorLike).text;
  if (typeof own === 'string') return own;
  const inner = (sub as { cursor?: CursorLike }).cursor?.text;
  return typeof inner === 'string' ? inner : undefined;
}

/**
 * Watches `sub` so that `done` runs exactly once, when it ends, fails or is closed, and returns a
 * function that submits it on a connection. A cursor closed before it was submitted (a stream
 * destroyed while its connection was still being acquired) is not submitted at all: it would
 * otherwise hold its connection forever, since nobody reads it.
 */
export function watchSubmittable(sub: SubmittableLike, done: (err?: unknown) => void): { submit(conn: SubmitTarget): void; fail(err: unknown): void } {
  let finished = false;
  let submitted = false;
  let closedEarly = false;
  const finish = (err?: unknown): void => {
    if (finished) return;
    finished = true;
    done(err);
  };
  const onReady = sub.handleReadyForQuery;
  const onError = sub.handleError;
  const target = sub as { handleReadyForQuery?: (...a: unknown[]) => void; handleError?: (...a: unknown[]) => void };
  target.handleReadyForQuery = function handleReadyForQuery(this: unknown, ...a: unknown[]) {
    try {
      onReady?.apply(sub, a);
    } finally {
      finish();
    }
  };
  target.handleError = function handleError(this: unknown, ...a: unknown[]) {
    try {
      onError?.apply(sub, a as [unknown]);
    } finally {
      finish(a[0] ?? new Error('query failed'));
    }
  };
  const cursor: CursorLike = (sub as { cursor?: CursorLike }).cursor ?? (sub as CursorLike);
  const close = cursor.close;
  if (typeof close === 'function') {
    cursor.close = function closeCursor(this: unknown, ...a: unknown[]) {
      if (!submitted) closedEarly = true;
      return close.apply(cursor, a as [((err?: Error) => void)?]);
    };
  }
  const fail = (err: unknown): void => {
    finish(err);
    onError?.call(sub, err);
  };
  return {
    fail,
    submit(conn: SubmitTarget): void {
      if (closedEarly) {
        finish();
        return;
      }
      submitted = true;
      try {
        conn.query(sub);
      } catch (err) {
        fail(err);
      }
    },
  };
}

/** Runs `sub` on the connection `acquire` resolves to; `done` when it is over (see {@link watchSubmittable}). */
export function runSubmittable(
  sub: SubmittableLike,
  acquire: Promise<{ readonly conn: SubmitTarget; done(err?: unknown): void }>,
  after?: () => void,
): void {
  let release: ((err?: unknown) => void) | undefined;
  const w = watchSubmittable(sub, (err) => {
    release?.(err);
    after?.();
  });
  acquire.then(
    (held) => {
      release = (err) => held.done(err);
      w.submit(held.conn);
    },
    (err: unknown) => w.fail(err),
  );
}
