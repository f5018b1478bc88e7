import { realpathSync, existsSync } from 'node:fs';
import path from 'node:path';

/**
 * How the user runs dbrouter, for the commands our hints print: `dbrouter` when that name on PATH
 * is this very program (a global install), else `npx dbrouter` (a project's local install, npx, a
 * checkout), since a bare `dbrouter` would not be found there.
 */
export function commandName(argv1 = process.argv[1], env: NodeJS.ProcessEnv = process.env): string {
  if (env.npm_command === 'exec') return 'npx dbrouter';
  if (argv1 === undefined) return 'npx dbrouter';
  let self: string;
  try {
    self = realpathSync(argv1);
  } catch {
    return 'npx dbrouter';
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, 'dbrouter');
    try {
      if (existsSync(candidate) && realpathSync(candidate) === self) return 'dbrouter';
    } catch {
      // unreadable PATH entry: not ours
    }
  }
  return 'npx dbrouter';
}

/** Rewrites the `dbrouter …` commands quoted in a message to how this user runs dbrouter. */
export function withCommandName(text: string, name = commandName()): string {
  if (name === 'dbrouter') return text;
  // Only commands quoted as commands: in backticks, after `with: ` / `locally: `, or opening a line.
  return text.replace(/(^|[`(]|: )dbrouter (cluster|status|demo|explain)\b/gm, `$1${name} $2`);
}
