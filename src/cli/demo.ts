import type { Command } from 'commander';
import { DbRouterError } from '../errors.js';
import type { Engine } from '../local/types.js';
import { watchParent } from './parent-watch.js';

interface DemoCliOptions {
  engine: string;
  port?: string;
  dashboardPort?: string;
  smoke?: boolean;
  dir?: string;
  traffic: boolean;
}

function parsePort(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new DbRouterError('USAGE', `${flag} must be a port number from 0 to 65535, got '${text}'`);
  return n;
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function loadDemo(): Promise<typeof import('../demo/run.js')> {
  try {
    return await import('../demo/run.js');
  } catch (e) {
    const missing = /Cannot find (?:package|module) '([^']+)'/.exec(e instanceof Error ? e.message : '')?.[1];
    if (missing) {
      throw new DbRouterError('USAGE', `the demo needs ${missing}, a development dependency: run it from a clone after npm ci, or npm install express kysely pg mysql2`, { cause: e });
    }
    throw e;
  }
}

/**
 * Registers `dbrouter demo`: a local replicated cluster, a guestbook app wired through dbrouter,
 * the dashboard with controls, and light traffic, until Ctrl-C removes all of it. `--smoke` runs a
 * scripted scenario instead and exits 0 only when every step behaved.
 *
 * @example
 *   dbrouter demo                       # npm run demo
 *   dbrouter demo --engine mariadb --port 8080
 *   dbrouter demo --smoke               # CI
 */
export function register(program: Command): void {
  program
    .command('demo')
    .description('run a local replicated cluster, a guestbook app routed by dbrouter, and a live dashboard (Ctrl-C stops everything)')
    .option('--engine <engine>', 'postgres or mariadb', 'postgres')
    .option('--port <port>', 'port of the guestbook app, 0 for any free port [default: 3000; with --smoke, 0]')
    .option('--dashboard-port <port>', 'port of the dashboard [default: --port + 1, or any free port with --port 0]')
    .option('--dir <dir>', 'cluster directory [default: a fresh folder in the OS temp dir]')
    .option('--no-traffic', 'no background traffic')
    .option('--smoke', 'run the scripted scenario headless (writes, paused replay, failover) and exit 0 only if every step behaved')
    .action(async function demoAction(opts: DemoCliOptions) {
      if (opts.engine !== 'postgres' && opts.engine !== 'mariadb') {
        throw new DbRouterError('USAGE', `unknown engine '${opts.engine}': use --engine postgres or --engine mariadb`);
      }
      const engine: Engine = opts.engine;
      const smoke = opts.smoke === true;
      const port = parsePort(opts.port ?? (smoke ? '0' : '3000'), '--port');
      const dashboardPort = opts.dashboardPort !== undefined ? parsePort(opts.dashboardPort, '--dashboard-port') : port === 0 ? 0 : port + 1;
      const { startDemo } = await loadDemo();

      const abort = new AbortController();
      let stopRequested: (() => void) | undefined;
      const stopping = new Promise<void>((resolve) => (stopRequested = resolve));
      let signals = 0;
      const onSignal = (): void => {
        signals++;
        if (signals > 1) {
          process.stderr.write('dbrouter demo: still stopping, please wait\n');
          return;
        }
        abort.abort();
        stopRequested?.();
      };
      // SIGHUP too: a closed terminal must not leave the detached database servers behind.
      const signalNames = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
      for (const name of signalNames) process.on(name, onSignal);
      // The demo must die with whatever started it, also where no signal reaches us: `npx dbrouter
      // demo` runs us under `sh -c`; npm forwards SIGTERM to that shell, which dies without passing
      // it on, and SIGINT, which the shell holds until we exit (see parent-watch.ts).
      const stopWatch = watchParent((event) => {
        process.stderr.write(event === 'parent-gone'
          ? 'dbrouter demo: the process that started it has gone; stopping\n'
          : 'dbrouter demo: the npx process that started it was interrupted (SIGINT); stopping\n');
        onSignal();
      });
      const t0 = performance.now();
      try {
        out(`dbrouter demo: ${engine}, ${smoke ? 'smoke scenario' : 'Ctrl-C stops everything'}`);
        let demo;
        try {
          demo = await startDemo({
            engine,
            port,
            dashboardPort,
            ...(opts.dir !== undefined ? { dir: opts.dir } : {}),
            traffic: opts.traffic && !smoke ? { readEveryMillis: 400, writeEveryMillis: 2500, maxMillis: 30 * 60_000 } : false,
            onProgress: out,
            signal: abort.signal,
          });
        } catch (e) {
          if (abort.signal.aborted) {
            process.stderr.write('dbrouter demo: interrupted during start-up; everything it had started was removed\n');
            process.exitCode = 130;
            return;
          }
          throw e;
        }
        out(`ready in ${(demo.startupMillis / 1000).toFixed(1)} s`);
        out(`  guestbook  ${demo.appUrl}`);
        out(`  dashboard  ${demo.dashboardUrl}`);
        const pids = (await demo.local.status()).map((n) => n.pid).filter((p): p is number => p !== null);

        let ok = true;
        if (smoke) {
          const limitMillis = 120_000;
          const timeout = new Promise<boolean>((resolve) => setTimeout(() => {
            out(`  FAIL  the scenario did not finish within ${limitMillis / 1000} s`);
            resolve(false);
          }, limitMillis).unref());
          const interrupted = stopping.then(() => {
            out('  FAIL  interrupted');
            return false;
          });
          ok = await Promise.race([
            (async () => {
              const { runSmoke } = await import('../demo/smoke.js');
              return runSmoke(demo, out);
            })(),
            timeout,
            interrupted,
          ]);
        } else {
          if (demo.traffic) out('light background traffic: a page view every 0.4 s, a note every 2.5 s (for at most 30 minutes)');
          out('open the dashboard, pause a replica or kill the primary there, and watch reads and writes move. Ctrl-C stops everything.');
          await stopping;
          out('stopping…');
        }
        const t1 = performance.now();
        await demo.stop();
        const left = pids.filter(alive);
        if (left.length > 0) {
          out(`  FAIL  database servers still running after stop: pids ${left.join(', ')}`);
          ok = false;
        }
        const traffic = demo.traffic ? ` (background traffic: ${demo.traffic.reads} page views, ${demo.traffic.writes} notes, ${demo.traffic.failed} failed)` : '';
        out(`stopped in ${Math.round(performance.now() - t1)} ms: cluster, app and dashboard removed${traffic}`);
        if (smoke) out(`smoke ${ok ? 'passed' : 'FAILED'} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        process.exitCode = ok ? 0 : 1;
      } finally {
        stopWatch();
        for (const name of signalNames) process.off(name, onSignal);
      }
    });
}
