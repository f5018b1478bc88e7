import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { DbRouterError } from '../errors.js';
import { register as registerCluster } from './cluster.js';
import { register as registerDemo } from './demo.js';
import { register as registerExplain } from './explain.js';
import { register as registerStatus } from './status.js';
import { withCommandName } from './invocation.js';

/** The package's version, read from its package.json (two folders up from src/cli and dist/cli). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

/**
 * The `dbrouter` command. Each subcommand lives in its own file and registers itself here.
 * Returns the process exit code.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('dbrouter')
    .description('Route reads to replicas and writes to the primary; run real local replicated clusters.')
    .version(version(), '-V, --version', 'print the version of dbrouter')
    .exitOverride()
    .showHelpAfterError();
  registerCluster(program);
  registerExplain(program);
  registerDemo(program);
  registerStatus(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof DbRouterError) {
      process.stderr.write(`dbrouter: ${withCommandName(e.message)} [${e.code}]\n`);
      return 1;
    }
    throw e;
  }
}
