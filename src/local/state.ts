import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DbRouterError } from '../errors.js';
import type { OsUser } from './os-user.js';
import type { Engine, NodeRole } from './types.js';

/** One server of a cluster, as recorded on disk. */
export interface NodeState {
  alias: string;
  role: NodeRole;
  port: number;
  /** Server process id while it runs; `null` when stopped by us. */
  pid: number | null;
  dataDir: string;
  logFile: string;
  /** MariaDB `server_id`; for PostgreSQL the node's index. */
  serverId: number;
  paused: boolean;
  delayMillis: number;
  /** Was primary, then another node was promoted: on `start` it must rejoin as a replica. */
  mustRejoin: boolean;
}

/**
 * Everything a later process (the CLI, another test file) needs to attach to a running cluster.
 * Written to `<dir>/state.json`.
 */
export interface ClusterState {
  version: 1;
  engine: Engine;
  dir: string;
  /** Data dirs, sockets and logs live here (tmpfs by default). */
  dataRoot: string;
  socketDir: string;
  binDir: string;
  engineVersion: string;
  osUser: OsUser;
  settings: Record<string, string>;
  createdAt: string;
  nodes: NodeState[];
}

export const STATE_FILE = 'state.json';

export function statePath(dir: string): string {
  return path.join(dir, STATE_FILE);
}

export function hasState(dir: string): boolean {
  return existsSync(statePath(dir));
}

export function readState(dir: string): ClusterState {
  let text: string;
  try {
    text = readFileSync(statePath(dir), 'utf8');
  } catch {
    throw new DbRouterError(
      'CLUSTER_NOT_FOUND',
      `no cluster in ${dir} (no ${STATE_FILE}): start one with \`dbrouter cluster up --dir ${dir}\``,
    );
  }
  const state = JSON.parse(text) as ClusterState;
  if (state.version !== 1 || !Array.isArray(state.nodes)) {
    throw new DbRouterError('CLUSTER_NOT_FOUND', `${statePath(dir)} is not a dbrouter cluster state file`);
  }
  return state;
}

/** Atomic replace, so a reader never sees half a file. */
export async function writeState(state: ClusterState): Promise<void> {
  const file = statePath(state.dir);
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, file);
}
