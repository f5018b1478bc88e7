import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DbRouterError, isDbRouterError } from '../errors.js';
import type { EngineDriver } from './engine.js';
import { MariadbEngine } from './mariadb-engine.js';
import { giveTo, resolveOsUser } from './os-user.js';
import { findPortBlock, isPortFree } from './ports.js';
import { PostgresEngine } from './postgres-engine.js';
import { isAlive, isOurServer, spawnServer, stopProcess, tailFile } from './processes.js';
import { hasState, readState, statePath, writeState, type ClusterState, type NodeState } from './state.js';
import { cloneTemplate, fastScratchRoot, perUserName, shortHash } from './templates.js';
import type { ClusterDatabase, Engine, LocalCluster, NodeStatus, StartClusterOptions } from './types.js';
import { pollUntil } from './wait.js';
import { checkStartOptions } from './options.js';
import { requireClientLibrary } from './drivers.js';

const DEFAULT_REPLICAS = 2;
const MAX_REPLICAS = 20;
const DEFAULT_WAIT_MILLIS = 10_000;
/** A unix socket path is at most 107 bytes; PostgreSQL's socket name adds `/.s.PGSQL.NNNNN`. */
const MAX_SOCKET_DIR_LENGTH = 90;

/**
 * Default cluster directory for an engine: `./.dbrouter/cluster-<engine>` of the working directory.
 *
 * @example
 *   const cluster = await openCluster(defaultClusterDir('postgres'));
 */
export function defaultClusterDir(engine: Engine): string {
  return path.resolve('.dbrouter', `cluster-${engine}`);
}

function driverFor(engine: Engine, options: Pick<StartClusterOptions, 'binDir' | 'postgresSource'> = {}): EngineDriver {
  if (engine === 'postgres') return new PostgresEngine({ binDir: options.binDir, source: options.postgresSource });
  if (engine === 'mariadb') return new MariadbEngine({ binDir: options.binDir });
  throw new DbRouterError('CONFIG_INVALID', `unknown engine '${String(engine)}': use postgres or mariadb`);
}

function downCommand(dir: string): string {
  return `dbrouter cluster down --dir ${dir}`;
}

function liveNodes(state: ClusterState): NodeState[] {
  return state.nodes.filter((n) => isOurServer(n.pid, n.dataDir));
}

/**
 * Starts a primary and `replicas` replicas on free loopback ports and resolves once every replica
 * has replayed the primary's position. Local clusters are tuned for speed (fsync off, small
 * buffers): for development and tests, never for production. PostgreSQL nodes accept any local
 * connection as `postgres` without a password (trust auth, loopback only); MariaDB gives the
 * application the non-admin user `app`/`app` on database `app`.
 * A failed start leaves no process and no data behind.
 *
 * @example
 *   import { startCluster } from 'dbrouter/cluster';
 *   const cluster = await startCluster({ engine: 'mariadb', replicas: 1 });
 *   console.log(cluster.databases.replica1.url); // mysql://app:app@127.0.0.1:2xxxx/app
 *   await cluster.down();
 */
export async function startCluster(options: StartClusterOptions): Promise<LocalCluster> {
  checkStartOptions(options);
  requireClientLibrary(options.engine);
  const driver = driverFor(options.engine, options);
  if (options.sync === true && options.engine !== 'postgres') {
    throw new DbRouterError('SYNC_UNAVAILABLE', 'sync: MariaDB replicas cannot apply before a commit returns (semi-synchronous replication only acknowledges receipt); start without --sync.');
  }
  const replicas = options.replicas ?? DEFAULT_REPLICAS;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
    throw new DbRouterError('CONFIG_INVALID', `replicas must be a whole number from 1 to ${MAX_REPLICAS}, got ${replicas}`);
  }
  const dir = path.resolve(options.dir ?? defaultClusterDir(options.engine));
  refuseOccupiedDir(dir);
  const progress = options.onProgress ?? (() => {});
  const binaries = await driver.findBinaries();
  const osUser = await resolveOsUser();
  // Ports are probed free, but another process can take one before our server binds it: retry
  // with a new block then (only when the caller did not ask for specific ports).
  for (let attempt = 1; ; attempt++) {
    const basePort = await findPortBlock(replicas + 1, options.basePort);
    const createdDir = !existsSync(dir);
    const dataRoot = path.resolve(options.dataRoot ?? path.join(fastScratchRoot(), perUserName('dbrouter-clusters'), shortHash(dir)));
    const socketDir = path.join(dataRoot, 'sock');
    if (socketDir.length > MAX_SOCKET_DIR_LENGTH) {
      throw new DbRouterError('CONFIG_INVALID', `data root ${dataRoot} is too long for unix socket paths (107 bytes): pass a shorter dataRoot`);
    }
    const state: ClusterState = {
      version: 1,
      engine: options.engine,
      dir,
      dataRoot,
      socketDir,
      binDir: binaries.binDir,
      engineVersion: binaries.version,
      osUser,
      settings: { ...(options.sync === true ? { synchronous_standby_names: 'ANY 1 (*)' } : {}), ...options.settings },
      createdAt: new Date().toISOString(),
      nodes: Array.from({ length: replicas + 1 }, (_, i) => {
        const alias = i === 0 ? 'default' : `replica${i}`;
        return {
          alias,
          role: i === 0 ? 'primary' : 'replica',
          port: basePort + i,
          pid: null,
          dataDir: path.join(dataRoot, alias),
          logFile: path.join(dataRoot, `${alias}.log`),
          serverId: i + 1,
          paused: false,
          delayMillis: 0,
          mustRejoin: false,
        };
      }),
    };
    try {
      await createCluster(state, driver, options, progress);
      return new LocalClusterImpl(state, driver);
    } catch (e) {
      await destroy(state, driver, 'crash');
      if (createdDir) await rm(dir, { recursive: true, force: true });
      if (isDbRouterError(e, 'PORT_IN_USE') && options.basePort === undefined && attempt < 3) continue;
      if (e instanceof DbRouterError || options.signal?.aborted) throw e;
      throw new DbRouterError('CLUSTER_START_FAILED', `${options.engine} cluster did not start (nothing was left behind): ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
}

function refuseOccupiedDir(dir: string): void {
  if (hasState(dir)) {
    let state: ClusterState | null = null;
    try {
      state = readState(dir);
    } catch {
      // unreadable state: treated as a crashed run below
    }
    const live = state ? liveNodes(state) : [];
    if (live.length > 0) {
      throw new DbRouterError(
        'CLUSTER_EXISTS',
        `a cluster is already running in ${dir} (pids ${live.map((n) => n.pid).join(', ')}): ` +
          `use it (its URLs: \`dbrouter cluster env --dir ${dir}\`, or --json; its nodes: \`dbrouter cluster status --dir ${dir}\`) or stop it with \`${downCommand(dir)}\``,
      );
    }
    throw new DbRouterError(
      'CLUSTER_EXISTS',
      `${dir} holds a cluster that is not running (a crashed run, or \`down --keep\`): ` +
        `remove it with \`${downCommand(dir)}\` and run up again, or start its nodes with \`dbrouter cluster start ALIAS --dir ${dir}\``,
    );
  }
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new DbRouterError('CLUSTER_EXISTS', `${dir} is not empty and holds no dbrouter cluster: pick an empty or new --dir`);
  }
}

// `.dbrouter/` lands in the user's project: a `.gitignore` of `*` inside keeps it (and itself) out
// of git without touching the project's own .gitignore.
async function ignoreInGit(dir: string): Promise<void> {
  const parent = path.dirname(dir);
  if (path.basename(parent) !== '.dbrouter') return;
  await writeFile(path.join(parent, '.gitignore'), '*\n', { flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
}

async function createCluster(state: ClusterState, driver: EngineDriver, options: StartClusterOptions, progress: (step: string) => void): Promise<void> {
  const signal = options.signal;
  const ownsParent = options.dataRoot === undefined;
  await mkdir(state.dir, { recursive: true });
  await ignoreInGit(state.dir);
  // Leftovers from a run killed before it wrote its state file: the folder is named after our dir.
  await rm(state.dataRoot, { recursive: true, force: true });
  if (ownsParent) {
    // Our shared parent under /dev/shm: traversable by the server account. Never chmod a parent
    // we did not create (a caller's dataRoot may sit directly in /tmp).
    await mkdir(path.dirname(state.dataRoot), { recursive: true });
    await chmod(path.dirname(state.dataRoot), 0o755).catch(() => {});
  }
  await mkdir(state.socketDir, { recursive: true });
  await chmod(state.dataRoot, 0o755);
  await giveTo(state.dataRoot, state.osUser);
  await giveTo(state.socketDir, state.osUser);
  await writeState(state);
  signal?.throwIfAborted();

  progress(`${state.engine} ${state.engineVersion}: preparing data directories (template cache)`);
  const template = await driver.template(state);
  const primary = state.nodes[0]!;
  await Promise.all(state.nodes.map((node) => cloneTemplate(template, node.dataDir)));
  for (const node of state.nodes) await driver.configureNode(state, node, primary);
  signal?.throwIfAborted();

  progress(`starting ${state.nodes.map((n) => `${n.alias}:${n.port}`).join(' ')}`);
  for (const node of state.nodes) node.pid = launch(state, driver, node);
  await writeState(state);
  const startTimeout = options.startTimeoutMillis ?? 30_000;
  await Promise.all(state.nodes.map((node) => waitReady(state, driver, node, startTimeout, signal)));

  progress('configuring replication');
  await driver.initialize(state);
  const catchUp = options.catchUpTimeoutMillis ?? 30_000;
  const deadline = Date.now() + catchUp;
  const replicas = state.nodes.filter((n) => n.role === 'replica');
  for (const node of replicas) {
    const ok = await pollUntil(() => driver.isReplicating(state, node), { timeoutMillis: Math.max(0, deadline - Date.now()), signal });
    if (!ok) throw catchUpError(state, node, 'never connected to the primary', catchUp);
  }
  const position = await driver.primaryPosition(state, primary);
  progress(`waiting for replicas to replay ${position || '(empty)'}`);
  for (const node of replicas) {
    const ok = await driver.waitForReplay(state, node, position, Math.max(0, deadline - Date.now()), signal);
    if (!ok) throw catchUpError(state, node, `did not replay ${position}`, catchUp);
  }
  progress('ready');
}

function launch(state: ClusterState, driver: EngineDriver, node: NodeState): number {
  const { command, args } = driver.command(state, node);
  return spawnServer(command, args, { user: state.osUser, logFile: node.logFile, cwd: state.dataRoot });
}

async function waitReady(state: ClusterState, driver: EngineDriver, node: NodeState, timeoutMillis: number, signal?: AbortSignal): Promise<void> {
  let exited = false;
  const ready = await pollUntil(
    async () => {
      if (node.pid === null || !isAlive(node.pid)) {
        exited = true;
        return true;
      }
      return driver.isReady(state, node);
    },
    { timeoutMillis, intervalMillis: 5, signal },
  );
  if (ready && !exited) return;
  const log = tailFile(node.logFile);
  if (/address already in use/i.test(log)) {
    throw new DbRouterError('PORT_IN_USE', `port ${node.port} on 127.0.0.1 was taken before ${node.alias} could bind it:\n${log}`);
  }
  throw new DbRouterError(
    'CLUSTER_START_FAILED',
    `${state.engine} ${node.alias} (port ${node.port}) ${exited ? 'exited during start' : `did not accept connections within ${timeoutMillis} ms`}. ` +
      `Last lines of ${node.logFile}:\n${log}`,
  );
}

function catchUpError(state: ClusterState, node: NodeState, what: string, timeoutMillis: number, hint = ''): DbRouterError {
  return new DbRouterError(
    'REPLICA_CATCH_UP_TIMEOUT',
    `${node.alias} ${what} within ${timeoutMillis} ms${hint}. Last lines of ${node.logFile}:\n${tailFile(node.logFile)}`,
  );
}

/** Stops every live process of the cluster (verified by pid and data dir) and, unless kept, removes its data. */
async function destroy(state: ClusterState, driver: EngineDriver, mode: 'crash' | 'clean', keep = false): Promise<void> {
  await Promise.all(
    state.nodes.map(async (node) => {
      if (isOurServer(node.pid, node.dataDir)) await stopProcess(node.pid, driver.stopSignal(mode));
      node.pid = null;
    }),
  );
  if (keep) {
    await writeState(state);
    return;
  }
  await rm(state.dataRoot, { recursive: true, force: true });
  await rm(statePath(state.dir), { force: true });
  await rmdir(state.dir).catch(() => {});
}

/**
 * Synchronous last-resort teardown for process exit handlers: SIGKILLs the cluster's servers
 * (checked against their data dirs) and removes its data. Prefer `cluster.down()`.
 *
 * @example
 *   process.on('exit', () => destroyClusterSync(cluster.dir));
 */
export function destroyClusterSync(dir: string): void {
  if (!hasState(dir)) return;
  let state: ClusterState;
  try {
    state = readState(dir);
  } catch {
    return;
  }
  for (const node of state.nodes) {
    if (isOurServer(node.pid, node.dataDir)) {
      try {
        process.kill(node.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  rmSync(state.dataRoot, { recursive: true, force: true });
  rmSync(statePath(dir), { force: true });
  try {
    rmdirSync(dir);
  } catch {
    // not empty or already gone
  }
}

/**
 * Attaches to a cluster started earlier (by this or another process) from its state file.
 * Rejects with `CLUSTER_NOT_FOUND` when `dir` holds no cluster.
 *
 * @example
 *   const cluster = await openCluster('./.dbrouter/cluster-postgres');
 *   await cluster.pause('replica1');
 */
export function openCluster(dir: string): Promise<LocalCluster> {
  try {
    const absolute = path.resolve(dir);
    const state = readState(absolute);
    state.dir = absolute;
    return Promise.resolve(new LocalClusterImpl(state, driverFor(state.engine)));
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

class LocalClusterImpl implements LocalCluster {
  #state: ClusterState;
  #driver: EngineDriver;

  constructor(state: ClusterState, driver: EngineDriver) {
    this.#state = state;
    this.#driver = driver;
  }

  // state.json is the truth shared by every process that controls this cluster (the CLI attaches
  // with openCluster): another process may have restarted a node (new pid) or promoted one since
  // this object read it. Re-read it before acting, or `down` would miss the processes it started.
  #sync(): void {
    if (!hasState(this.#state.dir)) return;
    const fresh = readState(this.#state.dir);
    fresh.dir = this.#state.dir;
    this.#state = fresh;
  }

  get engine(): Engine {
    return this.#state.engine;
  }

  get dir(): string {
    return this.#state.dir;
  }

  get databases(): Record<string, ClusterDatabase> {
    return Object.fromEntries(this.#state.nodes.map((n) => [n.alias, { url: this.#driver.url(this.#state, n), role: n.role }]));
  }

  get primaryAlias(): string {
    return this.#primary().alias;
  }

  get replicaAliases(): string[] {
    return this.#state.nodes.filter((n) => n.role === 'replica').map((n) => n.alias);
  }

  toJSON(): { engine: Engine; dir: string; databases: Record<string, ClusterDatabase> } {
    return { engine: this.engine, dir: this.dir, databases: this.databases };
  }

  #node(alias: string): NodeState {
    const node = this.#state.nodes.find((n) => n.alias === alias);
    if (!node) {
      throw new DbRouterError(
        'UNKNOWN_ALIAS',
        `unknown alias '${alias}': this cluster has ${this.#state.nodes.map((n) => n.alias).join(', ')}`,
      );
    }
    return node;
  }

  #primary(): NodeState {
    const primary = this.#state.nodes.find((n) => n.role === 'primary');
    if (!primary) throw new DbRouterError('NODE_DOWN', `cluster ${this.dir} has no primary`);
    return primary;
  }

  #replica(alias: string, action: string): NodeState {
    const node = this.#node(alias);
    if (node.role !== 'replica') {
      throw new DbRouterError(
        'NOT_A_REPLICA',
        `cannot ${action} '${alias}': it is the primary. Replicas: ${this.replicaAliases.join(', ') || '(none)'}`,
      );
    }
    return node;
  }

  #isUp(node: NodeState): boolean {
    return isOurServer(node.pid, node.dataDir);
  }

  #requireUp(node: NodeState): void {
    if (!this.#isUp(node)) {
      throw new DbRouterError('NODE_DOWN', `${node.alias} is down: start it with \`dbrouter cluster start ${node.alias} --dir ${this.dir}\``);
    }
  }

  async #save(): Promise<void> {
    await writeState(this.#state);
  }

  async status(): Promise<NodeStatus[]> {
    this.#sync();
    const primary = this.#primary();
    let primaryPosition: string | null = null;
    if (this.#isUp(primary)) primaryPosition = await this.#driver.primaryPosition(this.#state, primary).catch(() => null);
    return Promise.all(
      this.#state.nodes.map(async (node): Promise<NodeStatus> => {
        const up = this.#isUp(node);
        const base: NodeStatus = {
          alias: node.alias,
          role: node.role,
          port: node.port,
          pid: up ? node.pid : null,
          up,
          position: null,
          replicating: false,
          paused: node.paused,
          delayMillis: node.delayMillis,
          lagBytes: null,
          lagMillis: null,
        };
        if (!up) return base;
        try {
          return { ...base, ...(await this.#driver.status(this.#state, node, primaryPosition)) };
        } catch {
          return base; // running but not accepting connections (starting or recovering)
        }
      }),
    );
  }

  async primaryPosition(): Promise<string> {
    const primary = this.#primary();
    this.#requireUp(primary);
    return this.#driver.primaryPosition(this.#state, primary);
  }

  async waitForReplay(alias: string, position?: string, timeoutMillis = DEFAULT_WAIT_MILLIS): Promise<void> {
    const node = this.#node(alias);
    if (node.role === 'primary') return;
    this.#requireUp(node);
    const target = position ?? (await this.primaryPosition());
    const ok = await this.#driver.waitForReplay(this.#state, node, target, timeoutMillis);
    if (ok) return;
    const hints: string[] = [];
    if (node.paused) hints.push(`replay is paused: \`dbrouter cluster lag ${alias} resume --dir ${this.dir}\``);
    if (node.delayMillis > 0) hints.push(`it applies changes ${node.delayMillis} ms late (lag --delay)`);
    if (!this.#isUp(node)) hints.push('its server exited');
    throw catchUpError(this.#state, node, `did not replay ${target || '(empty position)'}`, timeoutMillis, hints.length ? ` (${hints.join('; ')})` : '');
  }

  async waitForAllReplicas(timeoutMillis = DEFAULT_WAIT_MILLIS): Promise<void> {
    const position = await this.primaryPosition();
    const deadline = Date.now() + timeoutMillis;
    for (const node of this.#state.nodes) {
      if (node.role === 'replica' && this.#isUp(node)) {
        await this.waitForReplay(node.alias, position, Math.max(0, deadline - Date.now()));
      }
    }
  }

  async pause(alias: string): Promise<void> {
    this.#sync();
    const node = this.#replica(alias, 'pause replay on');
    this.#requireUp(node);
    await this.#driver.pause(this.#state, node);
    node.paused = true;
    await this.#save();
  }

  async resume(alias: string): Promise<void> {
    this.#sync();
    const node = this.#replica(alias, 'resume replay on');
    this.#requireUp(node);
    await this.#driver.resume(this.#state, node);
    node.paused = false;
    await this.#save();
  }

  async setDelay(alias: string, delayMillis: number): Promise<void> {
    this.#sync();
    const node = this.#replica(alias, 'set a replay delay on');
    if (!Number.isFinite(delayMillis) || delayMillis < 0) {
      throw new DbRouterError('CONFIG_INVALID', `delay must be 0 or more milliseconds, got ${delayMillis}`);
    }
    this.#requireUp(node);
    await this.#driver.setDelay(this.#state, node, Math.round(delayMillis));
    node.delayMillis = Math.round(delayMillis);
    await this.#save();
  }

  async kill(alias: string): Promise<void> {
    this.#sync();
    const node = this.#node(alias);
    if (this.#isUp(node) && node.pid !== null) {
      await stopProcess(node.pid, this.#driver.stopSignal('crash'));
      // Callers test "the node is gone" next: make sure its port refuses connections by then.
      await pollUntil(() => isPortFree(node.port), { timeoutMillis: 2000, intervalMillis: 2 });
    }
    node.pid = null;
    await this.#save();
  }

  async start(alias: string, timeoutMillis = 30_000): Promise<void> {
    this.#sync();
    const node = this.#node(alias);
    if (this.#isUp(node)) return;
    const primary = node.role === 'primary' ? null : this.#primary();
    const primaryUp = primary !== null && this.#isUp(primary);
    if (primary && !primaryUp && node.mustRejoin) {
      throw new DbRouterError(
        'NODE_DOWN',
        `cannot rejoin ${alias} as a replica: its new primary ${primary.alias} is down. ` +
          `Start it (\`dbrouter cluster start ${primary.alias} --dir ${this.dir}\`) first`,
      );
    }
    try {
      await this.#driver.prepareStart(this.#state, node, primary);
    } catch (e) {
      if (e instanceof DbRouterError) throw e;
      throw new DbRouterError('CLUSTER_START_FAILED', `could not prepare ${alias} to start: ${(e as Error).message}`, { cause: e });
    }
    node.pid = launch(this.#state, this.#driver, node);
    node.paused = false;
    await this.#save();
    await waitReady(this.#state, this.#driver, node, timeoutMillis);
    await this.#driver.afterStart(this.#state, node, primary);
    if (primary && primaryUp && node.mustRejoin && (await this.#driver.mustRebuild?.(this.#state, node, primary)) === true) {
      await this.#rebuild(node, primary, timeoutMillis);
    }
    // A replica started while its primary is down keeps retrying on its own: only wait when it can connect.
    if (primary && primaryUp) {
      const ok = await pollUntil(() => this.#driver.isReplicating(this.#state, node), { timeoutMillis });
      if (!ok) throw catchUpError(this.#state, node, `did not connect to its primary ${primary.alias}`, timeoutMillis);
    }
    node.mustRejoin = false;
    await this.#save();
  }

  // A former primary whose history split from its new primary's is rebuilt as a copy of it, as a
  // failover tool would: stopped, its data replaced by a fresh template, then filled from the primary.
  async #rebuild(node: NodeState, primary: NodeState, timeoutMillis: number): Promise<void> {
    if (this.#driver.rebuild === undefined) return;
    if (node.pid !== null) await stopProcess(node.pid, this.#driver.stopSignal('clean'));
    node.pid = null;
    await this.#save();
    await rm(node.dataDir, { recursive: true, force: true });
    await cloneTemplate(await this.#driver.template(this.#state), node.dataDir);
    await this.#driver.configureNode(this.#state, node, primary);
    node.pid = launch(this.#state, this.#driver, node);
    await this.#save();
    await waitReady(this.#state, this.#driver, node, timeoutMillis);
    await this.#driver.rebuild?.(this.#state, node, primary);
  }

  async promote(alias: string): Promise<void> {
    this.#sync();
    const node = this.#replica(alias, 'promote');
    this.#requireUp(node);
    const old = this.#primary();
    // Two writable primaries would diverge: an old primary still running is shut down first.
    if (this.#isUp(old) && old.pid !== null) await stopProcess(old.pid, this.#driver.stopSignal('clean'));
    old.pid = null;
    await this.#driver.promote(this.#state, node);
    node.role = 'primary';
    node.paused = false;
    node.mustRejoin = false;
    old.role = 'replica';
    old.mustRejoin = true;
    await this.#save();
    for (const other of this.#state.nodes) {
      if (other.role === 'replica' && this.#isUp(other)) await this.#driver.follow(this.#state, other, node);
    }
  }

  async down(options: { keep?: boolean } = {}): Promise<void> {
    if (!hasState(this.dir)) return;
    this.#sync();
    await destroy(this.#state, this.#driver, options.keep ? 'clean' : 'crash', options.keep);
  }

  async log(alias: string): Promise<string> {
    return readFile(this.#node(alias).logFile, 'utf8').catch(() => '');
  }
}
