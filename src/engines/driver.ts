import { createRequire } from 'node:module';
import { DbRouterError } from '../errors.js';

const require = createRequire(import.meta.url);

/**
 * Loads a peer-dependency driver (`pg`, `mysql2`) synchronously, on first use, so a MySQL user never
 * needs `pg` installed and the other way round. Both drivers ship CommonJS.
 */
export function loadDriver<T>(name: 'pg' | 'mysql2' | 'mysql2/promise' | 'mariadb'): T {
  try {
    return require(name) as T;
  } catch (cause) {
    const pkg = name.split('/')[0] ?? name;
    throw new DbRouterError('DRIVER_MISSING', `The "${pkg}" package is not installed; run: npm install ${pkg}`, { cause });
  }
}
