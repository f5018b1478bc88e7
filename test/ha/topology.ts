/**
 * The `npm run test:ha` test bed from TypeScript: separate hosts on this machine (network
 * namespaces on one bridge, see test/ha/net/netns_up.sh), PostgreSQL 15 under Patroni with etcd,
 * PgBouncer, delay and partitions. scripts/test-ha.mjs creates the namespaces and etcd once and
 * removes everything at the end; each test file starts its own Patroni cluster (`patroni.up()`) and
 * stops it in `after()`, so a file leaves nothing behind for the next one.
 *
 *   app (this process, root namespace)  10.233.0.1
 *   dcs (etcd :2379)                    10.233.0.2
 *   h1, h2, h3 (PostgreSQL :5432, Patroni REST :8008, PgBouncer :6432)   10.233.0.11 .. 13
 *
 * Every wait here is bounded; every shell step has a timeout.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const scripts = path.join(here, 'net');

/** First three octets of the test bed's /24 (DBR_NET of the scripts). */
export const NET = process.env.DBR_NET ?? '10.233.0';
/** Where Patroni's nodes keep their data (tmpfs: etcd and PostgreSQL fsync a lot). */
export const DATA_DIR = process.env.DBROUTER_HA_DATA ?? '/dev/shm/dbrouter-ha-data';
/** The database hosts. */
export const HOSTS = ['h1', 'h2', 'h3'] as const;
export type Host = (typeof HOSTS)[number];

/** `false` when the test bed is up (scripts/test-ha.mjs sets DBROUTER_HA=1), else why the file skips. */
export const haSkip: string | false =
  process.env.DBROUTER_HA === '1' ? false : 'needs the namespaces, etcd and Patroni of `npm run test:ha` (root)';

/** A host's address as the app sees it. */
export function ip(host: Host | 'dcs' | 'app'): string {
  if (host === 'app') return `${NET}.1`;
  if (host === 'dcs') return `${NET}.2`;
  return `${NET}.${10 + Number(host.slice(1))}`;
}

/** The host whose address is `address` (what `inet_server_addr()` answers). */
export function hostOf(address: string): Host | undefined {
  return HOSTS.find((h) => ip(h) === address.replace(/\/32$/, ''));
}

/** Runs one of test/ha/net/*.sh (as root), bounded; rejects with its stderr tail. */
export function run(script: string, args: readonly string[] = [], options: { timeoutMillis?: number; env?: Record<string, string> } = {}): Promise<string> {
  const timeout = options.timeoutMillis ?? 60_000;
  return new Promise((resolve, reject) => {
    execFile('bash', [path.join(scripts, script), ...args], { timeout, env: { ...process.env, DBR_NET: NET, ...options.env }, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${script} ${args.join(' ')} failed (${err.killed ? `killed after ${timeout} ms` : `exit ${String(err.code)}`}): ${stderr.split('\n').slice(-8).join('\n')}`));
      else resolve(stdout);
    });
  });
}

/** Sleeps; only for pacing a load or a poll loop, never in place of a condition. */
export const tick = (millis: number): Promise<void> => new Promise((r) => setTimeout(r, millis));

/** Polls `condition` every `everyMillis` until it is truthy; returns how long it took. */
export async function until<T>(condition: () => T | Promise<T>, timeoutMillis: number, what: string, everyMillis = 20): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    let ok: T | undefined;
    try {
      ok = await condition();
    } catch {
      ok = undefined;
    }
    if (ok) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMillis) throw new Error(`${what}: not within ${timeoutMillis} ms`);
    await tick(everyMillis);
  }
}

/** Network faults: drop rules on the switch, delay by NFQUEUE (this kernel has no netem). */
export const net = {
  /** Cuts `host` off from everyone, or only from `from`; both directions, silently (no RST, no ICMP). */
  partition: (host: Host | 'dcs', from?: Host | 'dcs' | 'app') => run('partition.sh', from ? [host, 'from', from] : [host]),
  /** Removes the partitions of `host`, or every partition. */
  heal: (host?: Host | 'dcs') => run('heal.sh', host ? [host] : []),
  /** Delays what `host` sends (to `to` only, when given) by `millis`: the round trip grows by that much. */
  delay: (host: Host, millis: number, to?: Host | 'app') => run('netem.sh', [host, 'delay', `${millis}ms`, ...(to ? ['to', to] : [])]),
  /** Removes `host`'s delay. */
  undelay: (host: Host) => run('netem.sh', [host, 'off']),
};

/** One member as Patroni's `GET /cluster` lists it. */
export interface PatroniMember {
  name: Host;
  role: 'leader' | 'replica' | 'sync_standby' | 'standby_leader';
  state: string;
  host: string;
  lag?: number | string;
  timeline?: number;
}

/** GET a Patroni REST endpoint; `undefined` when the node does not answer within `timeoutMillis`. */
export async function rest(host: Host, endpoint: string, timeoutMillis = 500): Promise<{ status: number; body: unknown } | undefined> {
  try {
    const res = await fetch(`http://${ip(host)}:8008/${endpoint}`, { signal: AbortSignal.timeout(timeoutMillis) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* plain text */
    }
    return { status: res.status, body };
  } catch {
    return undefined;
  }
}

/** Patroni (3 nodes, etcd as DCS, ttl 10 s / loop_wait 1 s / retry_timeout 3 s) on h1..h3. */
export const patroni = {
  /** Starts a fresh cluster: h1 leads, h2 and h3 stream from it. `sync`: Patroni's synchronous mode. */
  async up(options: { sync?: boolean } = {}): Promise<string> {
    // What an interrupted earlier file left behind (its after() did not run) goes first.
    await run('pgbouncer_down.sh');
    await run('patroni_down.sh', [], { timeoutMillis: 60_000 });
    await run('heal.sh');
    return run('patroni_up.sh', ['3', DATA_DIR], { timeoutMillis: 150_000, env: { PATRONI_SYNC: options.sync ? 'true' : 'false' } });
  },
  /** Stops every node and deletes its data. */
  down: () => run('patroni_down.sh', [], { timeoutMillis: 60_000 }),
  /** Host crash: SIGKILL Patroni and the postmaster. */
  kill: (host: Host) => run('patroni_node.sh', ['kill', host]),
  start: (host: Host) => run('patroni_node.sh', ['start', host]),
  /** Graceful: Patroni stops PostgreSQL (and hands over the leader key if it held it). */
  stop: (host: Host) => run('patroni_node.sh', ['stop', host], { timeoutMillis: 60_000 }),
  /** `patronictl ARGS` against this cluster. */
  ctl: (...args: string[]) => run('patronictl.sh', args, { timeoutMillis: 90_000 }),
  /** Members as `GET /cluster` of `from` says, or of the first node that answers (asked in parallel). */
  async members(from?: Host): Promise<PatroniMember[] | undefined> {
    const answers = await Promise.all(HOSTS.map((h) => rest(h, 'cluster')));
    const ok = HOSTS.map((h, i) => [h, answers[i]] as const).filter(([, a]) => a?.status === 200);
    const pick = ok.find(([h]) => h === from) ?? ok[0];
    return pick ? (pick[1]!.body as { members: PatroniMember[] }).members : undefined;
  },
  /**
   * The running leader most reachable nodes agree on (`from`'s view when given). A node cut from
   * etcd keeps an old view for a while; the majority's is the DCS's.
   */
  async leader(from?: Host): Promise<Host | undefined> {
    if (from) return (await patroni.members(from))?.find((m) => m.role === 'leader' && m.state === 'running')?.name;
    const answers = await Promise.all(HOSTS.map((h) => rest(h, 'cluster')));
    const votes = new Map<Host | undefined, number>();
    for (const a of answers) {
      if (a?.status !== 200) continue;
      const l = (a.body as { members: PatroniMember[] }).members.find((m) => m.role === 'leader' && m.state === 'running')?.name;
      votes.set(l, (votes.get(l) ?? 0) + 1);
    }
    return [...votes].sort((a, b) => b[1] - a[1])[0]?.[0];
  },
  /** Every node running, one leader, the others streaming (`GET /replica` 200 on each of them). */
  async healthy(): Promise<Host | undefined> {
    const members = await patroni.members();
    if (!members || members.length !== HOSTS.length || members.some((m) => m.state !== 'running' && m.state !== 'streaming')) return undefined;
    const leader = members.find((m) => m.role === 'leader')?.name;
    if (!leader) return undefined;
    for (const h of HOSTS) {
      if (h === leader) continue;
      if ((await rest(h, 'replica'))?.status !== 200) return undefined;
    }
    return leader;
  },
};

/** A URL for the application user on `host` (PostgreSQL :5432, or PgBouncer :6432). */
export function url(host: Host, port = 5432): string {
  return `postgres://app:app@${ip(host)}:${port}/app`;
}

/** The superuser (Patroni's) on `host`: for checks that look behind dbrouter's back. */
export function adminUrl(host: Host): string {
  return `postgres://postgres:postgres@${ip(host)}:5432/app`;
}

/** Shell script folder, for tests that call a script directly. */
export const SCRIPTS = scripts;

/**
 * Runs one statement on `host`'s PostgreSQL from inside its own namespace (unix socket, as the
 * superuser): reaches a node the app is partitioned from. Resolves with psql's output, rejects if
 * the statement failed.
 */
export function local(host: Host, sql: string, timeoutMillis = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'ip',
      ['netns', 'exec', `dbrt-${host}`, '/usr/lib/postgresql/15/bin/psql', '-h', path.join(DATA_DIR, host, 'sock'), '-U', 'postgres', '-d', 'app', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql],
      { timeout: timeoutMillis, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGCONNECT_TIMEOUT: '1' } },
      (err, stdout, stderr) => (err ? reject(new Error(stderr.trim() || err.message)) : resolve(stdout.trim())),
    );
  });
}

/** GET a Patroni endpoint of `host` from inside its own namespace (works while it is partitioned). */
export function localRest(host: Host, endpoint: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', `dbrt-${host}`, 'curl', '-s', '-o', '/dev/null', '-m', '1', '-w', '%{http_code}', `http://${ip(host)}:8008/${endpoint}`], { timeout: 3000 }, (err, stdout) =>
      resolve(err ? undefined : Number(stdout) || undefined),
    );
  });
}

/** Records every change of Patroni's leader as the app sees it (GET /cluster every 100 ms). */
export function watchLeader(): { changes: { at: number; leader: Host | undefined }[]; stop(): Promise<void> } {
  const changes: { at: number; leader: Host | undefined }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const leader = await patroni.leader();
      if (changes.at(-1)?.leader !== leader || changes.length === 0) changes.push({ at: performance.now(), leader });
      await tick(100);
    }
  })();
  return {
    changes,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Polls `value` until it is defined; returns it. */
export async function waitFor<T>(value: () => Promise<T | undefined>, timeoutMillis: number, what: string, everyMillis = 100): Promise<T> {
  let got: T | undefined;
  await until(async () => (got = await value()) !== undefined, timeoutMillis, what, everyMillis);
  return got!;
}
