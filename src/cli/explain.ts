import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DbRouterError } from '../errors.js';
import { classify, type Dialect } from '../sql/index.js';

interface ExplainOptions {
  dialect: string;
  json?: boolean;
  writeFunctions?: string;
}

function parseDialect(value: string): Dialect {
  const v = value.toLowerCase();
  if (v === 'postgres' || v === 'postgresql' || v === 'pg') return 'postgres';
  if (v === 'mysql' || v === 'mariadb') return 'mysql';
  throw new DbRouterError('USAGE', `unknown dialect '${value}': use --dialect postgres or --dialect mysql (also for MariaDB)`);
}

/**
 * Registers `dbrouter explain`: shows where a statement would be routed and why.
 *
 * @example
 *   dbrouter explain "SELECT * FROM users FOR UPDATE"
 *   dbrouter explain --dialect mysql --json "SELECT LAST_INSERT_ID()"
 *   echo "BEGIN READ ONLY" | dbrouter explain -
 */
function usage(command: Command): void {
  process.stderr.write(`dbrouter explain: no SQL given\n\n${command.helpInformation()}`);
  process.exitCode = 2;
}

export function register(program: Command): void {
  program
    .command('explain')
    .description('Show where a SQL statement would be routed (primary or replica) and why.')
    .argument('[sql...]', 'the statement text (quote it); `-` or nothing reads it from standard input')
    .option('--dialect <dialect>', 'postgres or mysql (MySQL and MariaDB)', 'postgres')
    .option('--json', 'print one JSON object: {"target","reason","verb","effect","readOnly","tables","dialect"}')
    .option('--write-functions <names>', 'comma-separated functions that write, e.g. audit_log,public.bump')
    .action(function explainAction(this: Command, words: string[], options: ExplainOptions) {
      const dialect = parseDialect(options.dialect);
      let sql = words.join(' ');
      // No SQL on the command line and none piped in: show how to use it (exit 2) rather than
      // explain the empty text, or wait on a terminal for input nobody knows is expected.
      if (words.length === 0 && process.stdin.isTTY) return usage(this);
      if (words.length === 0 || sql === '-') sql = readFileSync(0, 'utf8');
      if (sql.trim() === '') return usage(this);
      const writeFunctions = options.writeFunctions
        ?.split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const c = classify(sql, dialect, { writeFunctions });
      if (options.json) {
        const { target, reason, verb, effect, readOnly, tables } = c;
        process.stdout.write(`${JSON.stringify({ target, reason, verb, effect, readOnly, tables, dialect })}\n`);
        return;
      }
      const lines = [
        `target    ${c.target}`,
        `reason    ${c.reason}`,
        `verb      ${c.verb || '(none)'}`,
        `effect    ${c.effect}${c.effect === 'begin' ? (c.readOnly ? ' (read only)' : ' (read write)') : ''}`,
        `tables    ${c.tables.length > 0 ? c.tables.join(', ') : '(none seen)'}`,
        `dialect   ${dialect}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
