/**
 * `dbrouter/slonik`: a Slonik `driverFactory` whose connections are routed clients of a
 * PostgreSQL cluster (see {@link createSlonikDriverFactory}).
 *
 * @module
 */
import type { DriverCommand, DriverFactory, DriverStreamResult, DriverTypeParser } from '@slonik/driver';
import { Transform } from 'node:stream';
import type { HasInternals } from '../../routing/contracts.js';
import { pgDriver, type PgDriverModule } from './driver-module.js';
import type { RoutedPgPoolOptions } from './routed-pool.js';

type PgError = Error & { code?: string };
type ErrorClass = new (...args: never[]) => Error;
type SlonikErrors = Record<string, ErrorClass>;
type QueryStreamClass = new (text: string, values?: unknown[]) => NodeJS.ReadableStream & { handleRowDescription(msg: { fields: { name: string; dataTypeID: number }[] }): void };

// Slonik's own pg driver maps these SQLSTATEs to its error classes; ours must too, or a caller's
// `instanceof UniqueIntegrityConstraintViolationError` would stop matching once routed.
const BY_CODE: Record<string, string> = {
  '22P02': 'InvalidInputError',
  '25P03': 'IdleTransactionTimeoutError',
  '57P01': 'BackendTerminatedError',
  '23502': 'NotNullIntegrityConstraintViolationError',
  '23503': 'ForeignKeyIntegrityConstraintViolationError',
  '23505': 'UniqueIntegrityConstraintViolationError',
  '23P01': 'CheckExclusionConstraintViolationError',
  '23514': 'CheckIntegrityConstraintViolationError',
};

function make(errors: SlonikErrors, name: string, ...args: unknown[]): Error {
  return new (errors[name] as unknown as new (...a: unknown[]) => Error)(...args);
}

function wrapError(errors: SlonikErrors, error: PgError, query?: { sql: string; values: unknown[] }): Error {
  const message = error.message.toLowerCase();
  if (message.includes('connection terminated unexpectedly')) return make(errors, 'BackendTerminatedUnexpectedlyError', error);
  if (message.includes('connection terminated')) return make(errors, 'BackendTerminatedError', error);
  if (error.code === undefined) return error;
  if (error.code === '22P02') return make(errors, 'InvalidInputError', error.message);
  if (error.code === '57014') return make(errors, error.message.includes('canceling statement due to user request') ? 'StatementCancelledError' : 'StatementTimeoutError', error);
  if (error.code === '42601' && query !== undefined) return make(errors, 'InputSyntaxError', error, query);
  const name = BY_CODE[error.code];
  return name === undefined ? error : make(errors, name, error);
}

/** Slonik's `typeParsers`, resolved to OIDs once (as Slonik's own pg driver does), on a routed client. */
async function typesOf(pg: PgDriverModule, parsers: readonly DriverTypeParser[]): Promise<{ getTypeParser(oid: number, format?: string): unknown }> {
  const pgTypes = pg.types as { getTypeParser(oid: number, format?: string): unknown };
  const byOid = new Map<number, (value: string) => unknown>();
  if (parsers.length > 0) {
    const client = new pg.Client();
    try {
      const { rows } = await client.query<{ oid: number; typarray: number; typname: string }>('SELECT oid::int, typarray::int, typname FROM pg_type WHERE typname = ANY($1::text[])', [parsers.map((p) => p.name)]);
      const parseArray = pgTypes.getTypeParser(1009) as (value: string) => string[];
      for (const p of parsers) {
        const t = rows.find((r) => r.typname === p.name);
        if (t === undefined) throw new Error(`Database type "${p.name}" not found.`);
        byOid.set(t.oid, (v) => p.parse(v));
        if (t.typarray !== 0) byOid.set(t.typarray, (v) => parseArray(v).map((x) => p.parse(x)));
      }
    } finally {
      await client.end();
    }
  }
  return { getTypeParser: (oid, format) => byOid.get(oid) ?? pgTypes.getTypeParser(oid, format) };
}

/**
 * A Slonik `driverFactory` whose connections are routed clients of `cluster` (Slonik builds its own
 * `pg.Client`, so it cannot take a pool or a driver module): reads on replicas, writes and
 * transactions on the primary, streams (`pool.stream`) through `pg-query-stream` on a replica. The
 * `DISCARD ALL` Slonik sends when it releases a connection does not pin it to the primary. Slonik's
 * `connectionUri` is not used to connect (the cluster's databases decide); its `typeParsers`,
 * `resetConnection` and pool sizes are. Needs `slonik` (>= 47, with its `@slonik/driver`) and
 * `pg-query-stream` installed.
 *
 * @example
 *   import { createPool } from 'slonik';
 *   import { createSlonikDriverFactory } from 'dbrouter/slonik';
 *   const slonik = await createPool(primaryUrl, { driverFactory: createSlonikDriverFactory(cluster) });
 */
export function createSlonikDriverFactory(cluster: HasInternals, options: RoutedPgPoolOptions = {}): DriverFactory {
  const pg = pgDriver(cluster, options);
  return async (input) => {
    const [{ createDriverFactory }, errors, { default: QueryStream }] = await Promise.all([
      import('@slonik/driver'),
      import('slonik') as Promise<unknown> as Promise<SlonikErrors>,
      import('pg-query-stream') as Promise<unknown> as Promise<{ default: QueryStreamClass }>,
    ]);
    return createDriverFactory(async ({ driverConfiguration }) => {
      const types = await typesOf(pg, driverConfiguration.typeParsers);
      return {
        createPoolClient: ({ clientEventEmitter }) => {
          const client = new pg.Client({ types });
          const onError = (error: Error): void => void clientEventEmitter.emit('error', wrapError(errors, error));
          const onNotice = (notice: { message?: string }): void => {
            if (notice.message !== undefined) clientEventEmitter.emit('notice', { message: notice.message });
          };
          client.on('error', onError).on('notice', onNotice);
          return Promise.resolve({
            connect: async () => void (await client.connect()),
            end: async () => {
              await client.end();
              client.off('error', onError).off('notice', onNotice);
            },
            query: async (sql: string, values?: unknown[], queryOptions?: { readonly name?: string }) => {
              let result;
              try {
                result = await client.query(queryOptions?.name !== undefined ? { name: queryOptions.name, text: sql, values } : { text: sql, values });
              } catch (error) {
                throw wrapError(errors, error as PgError, { sql, values: values ?? [] });
              }
              if (Array.isArray(result)) throw make(errors, 'InvalidInputError', 'Must not use multiple statements in a single query.');
              return {
                command: result.command as DriverCommand,
                fields: result.fields.map((f) => ({ dataTypeId: f.dataTypeID, name: f.name })),
                rowCount: result.rowCount,
                rows: result.rows,
              };
            },
            stream: (sql, values) => {
              const stream = new QueryStream(sql, values);
              let fields: DriverStreamResult['fields'] = [];
              // Slonik's own driver listens for rowDescription on the pg connection; a routed
              // client has none of its own, so the fields are taken from the stream's cursor.
              const describe = stream.handleRowDescription.bind(stream);
              stream.handleRowDescription = (msg) => {
                fields = msg.fields.map((f) => ({ dataTypeId: f.dataTypeID, name: f.name }));
                describe(msg);
              };
              client.query(stream as never);
              const transform = new Transform({
                objectMode: true,
                transform(row: Record<string, unknown>, _enc, callback) {
                  callback(null, { fields, row });
                },
              });
              stream.on('error', (error: PgError) => transform.emit('error', wrapError(errors, error, { sql, values: values ?? [] })));
              // Slonik destroys what we return when its consumer stops early; the cursor must close
              // too, or the routed client would hold its replica connection.
              transform.on('close', () => void (stream as unknown as { destroy(): void }).destroy());
              return stream.pipe(transform);
            },
          });
        },
      };
    })(input);
  };
}
