/**
 * Drops every TCP packet to and from one port on the loopback interface (iptables), for tests of
 * what the kernel itself sees when a peer goes silent: unlike a userspace proxy, nothing answers
 * TCP keepalive probes. Needs root and iptables; `packetDropSkip()` says why not otherwise.
 *
 *   await until(() => unacknowledgedTo(proxy.port) === 0, 2000, 'sent bytes acknowledged');
 *   const undo = dropPort(proxy.port);
 *   try { ... } finally { undo(); }
 *
 * Keepalive probes only a connection with nothing unacknowledged: bytes sent a few ms before the
 * drop (the receiver delays its ACK) would be retransmitted instead, for many minutes. A test of
 * keepalive waits for `unacknowledgedTo(port) === 0` before it drops.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

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
  } catch {
    return 'iptables is not usable here';
  }
  try {
    readFileSync('/proc/net/tcp', 'utf8');
    return false;
  } catch {
    return 'no /proc/net/tcp to read the send queues from';
  }
}

/** Drops packets to and from `port` on lo until the returned function is called (or the process exits). */
export function dropPort(port: number): () => void {
  rules.add(port);
  for (const r of ruleArgs(port)) iptables(['-I', ...r]);
  return () => remove(port);
}

/**
 * How many established connections of this host to `port` (their remote end) have sent bytes the
 * peer has not acknowledged yet: the kernel's own send queue (Linux /proc/net/tcp and tcp6).
 */
export function unacknowledgedTo(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue ...
      const [, , remote, state, queues] = line.trim().split(/\s+/);
      if (remote?.endsWith(`:${hexPort}`) !== true || state !== '01' || queues === undefined) continue;
      if (Number.parseInt(queues.split(':')[0]!, 16) > 0) n += 1;
    }
  }
  return n;
}
