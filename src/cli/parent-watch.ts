import { readFileSync } from 'node:fs';

/*
 * A long-running command (the demo) must end with whatever started it. Two cases no signal of our
 * own reports:
 *
 * - The parent dies (npm forwards SIGTERM to the `sh -c` that `npx` runs us under; the shell dies
 *   without passing it on): we are re-parented, so our parent pid changes.
 * - `kill -INT <npx pid>`: npm forwards SIGINT to that shell, and a non-interactive dash catches
 *   SIGINT and holds it until its child (us) exits. Nothing reaches us, but the shell wakes up to
 *   take the signal: a shell blocked waiting for its one child sleeps until a signal it catches
 *   arrives (dash catches only SIGINT and SIGCHLD; SIGCHLD comes only when we stop or exit). Its
 *   voluntary context switches (Linux `/proc/<pid>/status`) count those wake-ups.
 *
 * The second watch runs only where it is sound: on Linux, when our parent is a `sh -c` shell that
 * catches SIGINT and was started by npm/npx (an interactive shell also wakes when a background job
 * ends, and would be a false alarm).
 */

/** Why the watch fired. */
export type ParentEvent = 'parent-gone' | 'parent-interrupted';

function procText(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

function statusField(status: string, name: string): string | undefined {
  return new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
}

const SIGINT_BIT = 1n << 1n;

/**
 * The parent's voluntary context switch count when the parent is an npm/npx `sh -c` shell that
 * holds SIGINT; `undefined` when that watch does not apply here.
 */
function shellWakeups(ppid: number): (() => number | undefined) | undefined {
  if (process.platform !== 'linux') return undefined;
  const argv = procText(ppid, 'cmdline')?.split('\0') ?? [];
  const shell = argv[0]?.split('/').pop();
  if (shell !== 'sh' && shell !== 'dash') return undefined;
  if (!argv.includes('-c')) return undefined;
  const status = procText(ppid, 'status');
  if (status === undefined) return undefined;
  const caught = statusField(status, 'SigCgt');
  if (caught === undefined || (BigInt(`0x${caught}`) & SIGINT_BIT) === 0n) return undefined;
  const grandparent = Number(statusField(status, 'PPid'));
  const starter = procText(grandparent, 'cmdline')?.split('\0').join(' ') ?? '';
  if (!/\bnp[mx]\b|npm-cli|npx-cli/.test(starter)) return undefined;
  return () => {
    const s = procText(ppid, 'status');
    const n = s === undefined ? undefined : Number(statusField(s, 'voluntary_ctxt_switches'));
    return n === undefined || Number.isNaN(n) ? undefined : n;
  };
}

/**
 * Polls every `everyMillis` (default 250) and calls `onEvent` once when the process that started us
 * has gone, or when the npm/npx shell above us took a SIGINT meant for us. Returns a stop function.
 */
export function watchParent(onEvent: (event: ParentEvent) => void, everyMillis = 250): () => void {
  const parent = process.ppid;
  const wakeups = shellWakeups(parent);
  let baseline = wakeups?.();
  let fired = false;
  const timer = setInterval(() => {
    if (fired) return;
    if (process.ppid !== parent) {
      fired = true;
      onEvent('parent-gone');
      return;
    }
    if (wakeups === undefined || baseline === undefined) return;
    const now = wakeups();
    if (now === undefined) return;
    if (now > baseline) {
      fired = true;
      onEvent('parent-interrupted');
    }
    baseline = now;
  }, everyMillis);
  return () => clearInterval(timer);
}
