import type { Client as PgClient } from 'pg';
import type { Connection as MysqlConnection } from 'mysql2/promise';
import { driverPackage, loadDriver } from '../engines/driver.js';
import { isDbRouterError } from '../errors.js';
import type { Engine } from './types.js';

// The client libraries are optional peer dependencies of dbrouter: load them only when a cluster of
// that engine is used, and say how to install them when missing (DRIVER_MISSING, at once: a missing
// driver once looked like a server that never accepted connections, after a 30 s wait).

/** Throws `DRIVER_MISSING` naming the package when the engine's client library is not installed. */
export function requireClientLibrary(engine: Engine): void {
  loadDriver(driverPackage(engine));
}

/** A DRIVER_MISSING error is not a server that is not ready yet: readiness polls rethrow it. */
export function isDriverMissing(e: unknown): boolean {
  return isDbRouterError(e, 'DRIVER_MISSING');
}

export async function connectPostgres(options: { host: string; port: number }): Promise<PgClient> {
  const { Client } = loadDriver<{ Client: typeof PgClient }>('pg');
  const client = new Client({ host: options.host, port: options.port, user: 'postgres', database: 'postgres' });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => {});
    throw e;
  }
  return client;
}

export async function connectMariadb(options: { socketPath: string; user: string }): Promise<MysqlConnection> {
  const { createConnection } = loadDriver<{ createConnection: typeof import('mysql2/promise').createConnection }>('mysql2/promise');
  const connection = await createConnection({ socketPath: options.socketPath, user: options.user });
  connection.on('error', () => {});
  return connection;
}
