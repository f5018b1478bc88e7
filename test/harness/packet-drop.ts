/**
 * Drops every TCP packet to and from one port on the loopback interface (iptables), for tests of
 * what the kernel itself sees when a peer goes silent: unlike a userspace proxy, nothing answers
 * TCP keepalive probes. Needs root and iptables; `packetDropSkip()` says why not otherwise.
 *
 *   const undo = dropPort(proxy.port);
 *   try { ... } finally { undo(); }
 */
import { execFileSync } from 'node:child_process';

const rules = new Set<number>();
process.on('exit', () => {
  for (const port of rules) remove(port);
});

function iptables(args: string[]): void {
  execFileSync('iptables', args, { stdio: 'ignore' });
}

function ruleArgs(port: number): string[][] {
  return [
    ['INPUT', '-i', 'lo', '-p', 'tcp', '--dport', String(port), '-j', 'DROP'],
    ['INPUT', '-i', 'lo', '-p', 'tcp', '--sport', String(port), '-j', 'DROP'],
  ];
}

function remove(port: number): void {
  for (const r of ruleArgs(port)) {
    try {
      iptables(['-D', ...r]);
    } catch {
      // already gone
    }
  }
  rules.delete(port);
}

/** `false` when packets can be dropped here (root, iptables), else why not. */
export function packetDropSkip(): string | false {
  if (process.getuid?.() !== 0) return 'dropping packets needs root (iptables)';
  try {
    iptables(['-S', 'INPUT']);
    return false;
  } catch {
    return 'iptables is not usable here';
  }
}

/** Drops packets to and from `port` on lo until the returned function is called (or the process exits). */
export function dropPort(port: number): () => void {
  rules.add(port);
  for (const r of ruleArgs(port)) iptables(['-I', ...r]);
  return () => remove(port);
}
