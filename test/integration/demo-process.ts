// Runs `dbrouter demo` from source in a child process and follows its output, for the demo's
// integration and browser tests.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A running `dbrouter demo` child: its output so far, a wait for a line, its exit. */
export interface DemoProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly stderr: () => string;
  /** Resolves with the first line (stdout) matching `pattern`; rejects when the child exits first or on timeout. */
  waitFor(pattern: RegExp, timeoutMillis?: number): Promise<RegExpExecArray>;
  /** Resolves with the exit code (signal → 128 + n) once the child has exited. */
  readonly exited: Promise<number>;
}

export function spawnDemo(args: readonly string[]): DemoProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/harness/run-cli.ts'), 'demo', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of waiters) w();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 137));
      for (const w of waiters) w();
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    output: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMillis = 60_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          for (const line of out.split('\n')) {
            const m = pattern.exec(line);
            if (m) {
              finish();
              resolve(m);
              return;
            }
          }
          if (done || child.exitCode !== null) {
            finish();
            reject(new Error(`dbrouter demo exited before printing ${pattern}:\n${out}\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`dbrouter demo did not print ${pattern} within ${timeoutMillis} ms:\n${out}\n${err}`));
        }, timeoutMillis);
        const finish = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}
