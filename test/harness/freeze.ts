/**
 * Freezes a local server with SIGSTOP — the server process and every process under it — and thaws
 * it with SIGCONT: a node that is alive, holds its connections open and answers nothing (the kernel
 * still accepts connections into the listen backlog). Unlike a partition, no proxy is needed.
 *
 *   const frozen = freeze(pid);
 *   ... // the node is silent
 *   frozen.thaw();
 *
 * Linux only (reads /proc). Thawing twice is harmless; `thawAll()` thaws whatever a run left frozen.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** A frozen process tree. */
export interface Frozen {
  readonly pids: readonly number[];
  thaw(): void;
}

const frozen = new Set<Frozen>();

/** `pid` and its descendants, parents first. */
function tree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

function signal(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, sig);
    } catch {
      // exited meanwhile
    }
  }
}

/** Stops `pid` and every process under it. */
export function freeze(pid: number): Frozen {
  const pids = tree(pid);
  signal(pids, 'SIGSTOP');
  const f: Frozen = {
    pids,
    thaw: () => {
      if (!frozen.delete(f)) return;
      signal(pids, 'SIGCONT');
    },
  };
  frozen.add(f);
  return f;
}

/** Thaws every tree still frozen (a run's cleanup, also on failure). */
export function thawAll(): void {
  for (const f of [...frozen]) f.thaw();
}
