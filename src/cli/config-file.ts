import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ClusterConfig, DatabaseSetting } from '../cluster/config.js';
import { DbRouterError } from '../errors.js';

/** The names `dbrouter status` looks for in the working directory, in this order. */
export const CONFIG_FILE_NAMES = ['dbrouter.config.js', 'dbrouter.config.mjs', 'dbrouter.config.cjs', 'dbrouter.config.ts', 'dbrouter.config.json'] as const;

const ENV_PATTERN = /^DBROUTER_DATABASES_([A-Z0-9_]+?)_URL$/;

/** What {@link loadConfigFile} found: the configuration and where it came from (for messages). */
export interface LoadedConfig {
  readonly config: ClusterConfig;
  /** The file read, or `undefined` when the environment alone gave the databases. */
  readonly file: string | undefined;
  /** Aliases whose URL came from `DBROUTER_DATABASES_<ALIAS>_URL`. */
  readonly fromEnv: readonly string[];
}

function invalid(message: string, cause?: unknown): DbRouterError {
  return new DbRouterError('CONFIG_INVALID', message, cause === undefined ? undefined : { cause });
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

async function importModule(file: string): Promise<unknown> {
  if (file.endsWith('.ts') || file.endsWith('.mts') || file.endsWith('.cts')) {
    let tsImport: (specifier: string, parent: string) => Promise<unknown>;
    try {
      ({ tsImport } = (await import('tsx/esm/api')) as { tsImport: typeof tsImport });
    } catch (cause) {
      throw invalid(`${file} is TypeScript, and reading it needs tsx (npm install --save-dev tsx); or write dbrouter.config.js or dbrouter.config.json instead.`, cause);
    }
    return tsImport(pathToFileURL(file).href, import.meta.url);
  }
  return import(pathToFileURL(file).href);
}

async function readFile(file: string): Promise<unknown> {
  const name = path.basename(file);
  if (file.endsWith('.json')) {
    const text = readFileSync(file, 'utf8');
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw invalid(`${name} is not valid JSON: ${(cause as Error).message}.`, cause);
    }
  }
  let mod: unknown;
  try {
    mod = await importModule(file);
  } catch (cause) {
    if (cause instanceof DbRouterError) throw cause;
    const message = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw invalid(`${name} could not be loaded: ${message}. Fix the file, or run it with node to see the full error.`, cause);
  }
  const m = mod as Record<string, unknown>;
  // An ESM default export, a CommonJS module.exports (which import() shows as default), or `export const config`.
  let value = m.default ?? m.config;
  if (value !== null && typeof value === 'object' && 'default' in value && !('databases' in value)) value = value.default;
  if (value === undefined) throw invalid(`${name} exports nothing dbrouter can use: write export default { databases: { default: 'postgres://…' } }.`);
  return value;
}

/**
 * Checks the shape far enough to say what is wrong in words; `createCluster` validates the rest
 * (unknown keys, roles, URLs) and its messages name the key.
 */
function checkShape(value: unknown, where: string): ClusterConfig {
  if (typeof value === 'function') {
    throw invalid(`${where} exports a function; export the configuration object itself: export default { databases: { … } }.`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(`${where} exports ${describeValue(value)}; it must be an object such as { databases: { default: 'postgres://…' } }.`);
  }
  const databases = (value as { databases?: unknown }).databases;
  if (databases === undefined) {
    throw invalid(`${where} has no "databases": write { databases: { default: 'postgres://user@host/db', replica1: '…' } } (the object you pass to createCluster).`);
  }
  if (databases === null || typeof databases !== 'object' || Array.isArray(databases)) {
    throw invalid(`${where}: "databases" is ${describeValue(databases)}; it must be an object of alias → URL or { url, role, … }.`);
  }
  if (Object.keys(databases).length === 0) throw invalid(`${where}: "databases" is empty; name at least the primary, e.g. default: 'postgres://…'.`);
  return value as ClusterConfig;
}

/** `DBROUTER_DATABASES_REPLICA_1_URL` names alias `replica_1`; an existing alias matches whatever its case. */
function envOverrides(env: NodeJS.ProcessEnv, aliases: readonly string[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const [key, url] of Object.entries(env)) {
    const m = ENV_PATTERN.exec(key);
    if (!m?.[1] || url === undefined || url === '') continue;
    const wanted = m[1].toLowerCase();
    const alias = aliases.find((a) => a.toLowerCase().replace(/[^a-z0-9]/g, '_') === wanted) ?? wanted;
    found.set(alias, url);
  }
  return found;
}

function withUrl(setting: DatabaseSetting | undefined, url: string): DatabaseSetting {
  if (setting === undefined || typeof setting === 'string') return url;
  // The URL replaces every connection field; what is not about where to connect stays.
  const { host: _h, port: _p, user: _u, password: _pw, database: _d, ...rest } = setting;
  return { ...rest, url };
}

/**
 * Loads the configuration `dbrouter status` checks: the object the application passes to
 * `createCluster`, from `--config FILE` or the first of {@link CONFIG_FILE_NAMES} in `cwd`
 * (`export default { databases: { … } }`; JSON as is; TypeScript through tsx when installed).
 * Then `DBROUTER_DATABASES_<ALIAS>_URL` environment variables replace an alias's URL (or add the
 * alias); with no file at all, they alone make the configuration.
 *
 * @example
 *   const { config } = await loadConfigFile({ cwd: process.cwd(), env: process.env });
 *   const cluster = createCluster(config);
 */
export async function loadConfigFile(options: { file?: string; cwd: string; env: NodeJS.ProcessEnv }): Promise<LoadedConfig> {
  let file: string | undefined;
  if (options.file !== undefined) {
    file = path.resolve(options.cwd, options.file);
    if (!existsSync(file)) throw invalid(`Config file ${file} does not exist: check --config.`);
  } else {
    file = CONFIG_FILE_NAMES.map((n) => path.join(options.cwd, n)).find((f) => existsSync(f));
  }
  let config: ClusterConfig | undefined;
  if (file !== undefined) config = checkShape(await readFile(file), path.basename(file));

  const overrides = envOverrides(options.env, config ? Object.keys(config.databases) : []);
  if (config === undefined) {
    if (overrides.size === 0) {
      throw invalid(
        `No configuration: none of ${CONFIG_FILE_NAMES.join(', ')} is in ${options.cwd}, and no DBROUTER_DATABASES_<ALIAS>_URL is set. ` +
          'Pass --config FILE, or set e.g. DBROUTER_DATABASES_DEFAULT_URL=postgres://user@db1/app.',
      );
    }
    config = { databases: {} };
  }
  const databases: Record<string, DatabaseSetting> = { ...config.databases };
  for (const [alias, url] of overrides) databases[alias] = withUrl(databases[alias], url);
  return { config: { ...config, databases }, file, fromEnv: [...overrides.keys()] };
}
