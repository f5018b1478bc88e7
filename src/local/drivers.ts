import type { Client as PgClient } from 'pg';
import type { Connection as MysqlConnection } from 'mysql2/promise';
import { DbRouterError } from '../errors.js';

// The client libraries are optional peer dependencies of dbrouter: load them only when a cluster of
// that engine is used, and say how to install them when missing.

export async function connectPostgres(options: { host: string; port: number }): Promise<PgClient> {
  let Client: typeof PgClient;
  try {
    Client = (await import('pg')).default.Client;
  } catch (e) {
    throw new DbRouterError('BINARIES_MISSING', 'local PostgreSQL clusters need the pg package: npm install pg', { cause: e });
  }
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
  let createConnection: typeof import('mysql2/promise').createConnection;
  try {
    createConnection = (await import('mysql2/promise')).default.createConnection;
  } catch (e) {
    throw new DbRouterError('BINARIES_MISSING', 'local MariaDB clusters need the mysql2 package: npm install mysql2', { cause: e });
  }
  const connection = await createConnection({ socketPath: options.socketPath, user: options.user });
  connection.on('error', () => {});
  return connection;
}
