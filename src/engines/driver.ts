import { createRequire } from 'node:module';
import { DbRouterError } from '../errors.js';

const require = createRequire(import.meta.url);

/** The npm package that provides a driver module. */
function packageOf(name: string): string {
  return name.split('/')[0] ?? name;
}

/**
 * Loads a peer-dependency driver (`pg`, `mysql2`) synchronously, on first use, so a MySQL user never
 * needs `pg` installed and the other way round. Both drivers ship CommonJS. When the package cannot
 * be found this throws `DRIVER_MISSING` at once, naming the package to install; every place that
 * loads a driver goes through here, so none waits or retries on a missing one.
 *
 * @example
 *   const pg = loadDriver<typeof import('pg')>('pg');
 */
export function loadDriver<T>(name: 'pg' | 'mysql2' | 'mysql2/promise' | 'mariadb'): T {
  try {
    return require(name) as T;
  } catch (cause) {
    const pkg = packageOf(name);
    const code = (cause as { code?: unknown }).code;
    const missing = code === 'MODULE_NOT_FOUND' && (cause as Error).message.includes(`'${name}'`);
    throw new DbRouterError(
      'DRIVER_MISSING',
      missing
        ? `The "${pkg}" package is not installed; dbrouter needs it for this engine. Run: npm install ${pkg}`
        : `The "${pkg}" package is installed but failed to load (${(cause as Error).message.split('\n')[0]}); reinstall it: npm install ${pkg}`,
      { cause },
    );
  }
}

/** The driver package an engine needs: `pg` for PostgreSQL, `mysql2` for MySQL and MariaDB. */
export function driverPackage(engine: 'postgres' | 'mysql' | 'mariadb'): 'pg' | 'mysql2' {
  return engine === 'postgres' ? 'pg' : 'mysql2';
}
