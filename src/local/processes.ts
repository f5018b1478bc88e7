import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { DbRouterError } from '../errors.js';
import type { OsUser } from './os-user.js';
import { pollUntil } from './wait.js';

/**
 * True while `pid` runs. A dead child not yet reaped is a zombie with a /proc entry: not alive. But
 * a multi-threaded server (mariadbd) killed with SIGKILL shows its main thread as a zombie while
 * the other threads still tear down with its listening socket open (a client then gets ECONNRESET,
 * not ECONNREFUSED): it is alive until it is down to one thread.
 */
export function isAlive(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const state = /^State:\s+(\S)/m.exec(status)?.[1];
    const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? '1');
    if (state === 'Z' || state === 'X') return threads > 1;
    return state !== undefined;
  } catch {
    return false;
  }
}

/** The command line of `pid` joined by spaces, or `null` when it is gone. */
export function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return null;
  }
}

/**
 * True when `pid` is alive and its command line names `dataDir`: the check that keeps us from
 * signalling a recycled pid or the machine's own database services.
 */
export function isOurServer(pid: number | null, dataDir: string): pid is number {
  if (pid === null || !isAlive(pid)) return false;
  return commandLine(pid)?.includes(dataDir) ?? false;
}

/** Every live process whose command line mentions `path` (tests use it to prove nothing is left). */
export function processesMentioning(path: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    if (isAlive(pid) && commandLine(pid)?.includes(path)) pids.push(pid);
  }
  return pids;
}

/** Sends `signal` and resolves once the process is gone. */
export async function stopProcess(pid: number, signal: NodeJS.Signals, timeoutMillis = 30_000): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  if (await pollUntil(() => !isAlive(pid), { timeoutMillis, intervalMillis: 2 })) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await pollUntil(() => !isAlive(pid), { timeoutMillis: 5000, intervalMillis: 2 });
}

/** Starts a long-running server detached from us, as `user`, with stdout/stderr appended to `logFile`. */
export function spawnServer(command: string, args: readonly string[], options: { user: OsUser; logFile: string; cwd: string }): number {
  const fd = openSync(options.logFile, 'a');
  try {
    const child = spawn(command, args, {
      cwd: options.cwd,
      detached: true,
      stdio: ['ignore', fd, fd],
      ...(options.user.switchTo ? { uid: options.user.uid, gid: options.user.gid } : {}),
      env: { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' },
    });
    // An 'error' event (e.g. ENOENT) surfaces as an early exit found by the readiness check.
    child.on('error', () => {});
    child.unref();
    if (child.pid === undefined) {
      throw new DbRouterError('CLUSTER_START_FAILED', `could not start ${command}: see ${options.logFile}`);
    }
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Runs a command to completion (as `user` when given) and returns its stdout; rejects with stderr. */
export function run(
  command: string,
  args: readonly string[],
  options: { user?: OsUser; cwd?: string; input?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      {
        cwd: options.cwd ?? '/',
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' },
        ...(options.user?.switchTo ? { uid: options.user.uid, gid: options.user.gid } : {}),
      },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || error.message}`, { cause: error }));
        } else {
          resolve(stdout);
        }
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** The last `lines` lines of a log file ('' when it does not exist). */
export function tailFile(file: string, lines = 20): string {
  try {
    const text = readFileSync(file, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
