import type { Engine, EngineName } from '../routing/contracts.js';
import { mysqlEngine } from './mysql/engine.js';
import { postgresEngine } from './postgres/engine.js';

const BY_SCHEME: Readonly<Record<string, Engine>> = {
  'postgres:': postgresEngine,
  'postgresql:': postgresEngine,
  'mysql:': mysqlEngine,
  'mariadb:': mysqlEngine,
};

/** The engine a URL scheme (`postgres:`, `postgresql:`, `mysql:`, `mariadb:`) names, if any. */
export function engineForScheme(protocol: string): Engine | undefined {
  return BY_SCHEME[protocol.toLowerCase()];
}

export function engineByName(name: EngineName): Engine {
  return name === 'postgres' ? postgresEngine : mysqlEngine;
}

export const SCHEMES: readonly string[] = Object.keys(BY_SCHEME).map((s) => s.slice(0, -1));
export type { Engine, EngineName, Role, ConnectionOptions, PoolOptions } from './engine.js';
