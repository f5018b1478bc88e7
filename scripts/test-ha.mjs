#!/usr/bin/env node
// `npm run test:ha`: dbrouter against separate hosts, Patroni + etcd and PgBouncer (test/ha/*.test.ts).
//
// Needs root (network namespaces, nftables, NFQUEUE). Installs its Debian packages when missing, builds
// the test bed (test/ha/net/netns_up.sh: namespaces dbrt-sw, dbrt-dcs, dbrt-h1..3 on a bridge, the app link
// dbrt-app = 10.233.0.1 in this namespace; etcd in dbrt-dcs), runs the test files one at a time (each starts
// and stops its own Patroni cluster), and removes everything at the end - also on failure, on Ctrl-C/SIGTERM
// and when the whole run passes its time bound (DBROUTER_HA_TIMEOUT_MILLIS, default 10 min).
//   npm run test:ha                      every file
//   npm run test:ha -- test/ha/patroni.test.ts
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const net = path.join(root, 'test', 'ha', 'net');
const DATA = process.env.DBROUTER_HA_DATA ?? '/dev/shm/dbrouter-ha-data';
const TIMEOUT = Number(process.env.DBROUTER_HA_TIMEOUT_MILLIS ?? 600_000);
const PACKAGES = ['patroni', 'etcd-server', 'etcd-client', 'pgbouncer', 'iproute2', 'nftables', 'iptables', 'iputils-ping', 'curl', 'jq'];
const t0 = performance.now();
const log = (line) => process.stderr.write(`# [test:ha +${((performance.now() - t0) / 1000).toFixed(1)} s] ${line}\n`);

if (process.getuid?.() !== 0) {
  process.stderr.write('npm run test:ha needs root: it creates network namespaces, nftables and iptables rules (only names starting with dbrt-)\n');
  process.exit(1);
}

function sh(script, args = [], timeoutMillis = 120_000, env = {}) {
  execFileSync('bash', [path.join(net, script), ...args], { stdio: ['ignore', 'inherit', 'inherit'], timeout: timeoutMillis, env: { ...process.env, ...env } });
}

// Debian packages: install only what is missing (apt-get update first, as the machine's lists may be stale).
const missing = PACKAGES.filter((p) => {
  try {
    return !/install ok installed/.test(execFileSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return true;
  }
});
if (missing.length) {
  log(`installing ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env, timeout: 300_000 });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env, timeout: 300_000 });
}
if (!existsSync('/usr/lib/postgresql/15/bin/postgres')) {
  process.stderr.write('PostgreSQL 15 is missing (/usr/lib/postgresql/15/bin): apt-get install postgresql-15\n');
  process.exit(1);
}

const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync(path.join(root, 'test', 'ha')).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join('test', 'ha', f));

let tornDown = false;
function teardown() {
  if (tornDown) return;
  tornDown = true;
  const t = performance.now();
  try {
    // netns_down.sh stops PgBouncer, Patroni, etcd and the delay helpers (recorded pids only), then
    // deletes the namespaces; DBR_KILL_LEFTOVERS: anything else still inside OUR namespaces is ours too.
    sh('netns_down.sh', [], 120_000, { DBR_KILL_LEFTOVERS: '1' });
  } catch (e) {
    process.stderr.write(`teardown failed: ${e.message}\n`);
    process.exitCode = 1;
  }
  log(`test bed removed in ${Math.round(performance.now() - t)} ms`);
}

// A previous run killed hard may have left our namespaces behind: remove them first.
sh('netns_down.sh', [], 120_000, { DBR_KILL_LEFTOVERS: '1' });
let child;
let interrupted = null;
// The test runner runs each file in a process of its own: signal the whole group, so no file's
// process outlives the test bed it uses.
const stop = (signal) => {
  try {
    if (child?.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    /* gone already */
  }
};
const onSignal = (signal) => {
  interrupted = signal;
  stop('SIGTERM');
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('exit', teardown);

let status = 1;
try {
  sh('netns_up.sh', ['3'], 30_000);
  sh('etcd_up.sh', [DATA], 60_000);
  log('namespaces and etcd up');
  child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
    cwd: root,
    stdio: 'inherit',
    detached: true,
    env: { ...process.env, DBROUTER_HA: '1', DBROUTER_HA_DATA: DATA },
  });
  const bound = setTimeout(() => {
    log(`time bound of ${TIMEOUT} ms passed: stopping the tests`);
    interrupted = 'timeout';
    stop('SIGTERM');
    setTimeout(() => stop('SIGKILL'), 10_000).unref();
  }, Math.max(0, TIMEOUT - (performance.now() - t0)));
  status = await new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  clearTimeout(bound);
} catch (e) {
  process.stderr.write(`test bed failed: ${e.message}\n`);
}
teardown();
log(`done: ${interrupted ? `interrupted (${interrupted})` : status === 0 ? 'passed' : 'failed'}`);
process.exit(interrupted ? 130 : status);
