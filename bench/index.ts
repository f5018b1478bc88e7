/**
 * `npm run bench -- <name> [--json] [...]`: runs one benchmark by name. Each bench is a module in
 * this folder whose `main(args)` prints its report; with `--json` the last line of output is one
 * JSON object.
 *
 * @example
 *   npm run bench -- classify --json    # {"classify_per_sec":...,"cached_per_sec":...}
 *   npm run bench -- overhead --json
 *   npm run bench -- failover --json    # {"failover":{"write_gap_ms":...,"failed_reads":...,"failed_writes":...}}
 *   npm run bench -- ryw --json         # {"ryw":{"dbrouter":{"stale":0,"replica_share":...},"pin_2s":...,"pin_15s":...,"none":...},...}
 *   sudo npm run bench -- rtt           # session consistency at 0, 5, 50 ms RTT on the test:ha hosts (root)
 *   npm run bench -- owngtid            # MariaDB: a write's own GTID vs the capture, 0/5/50 ms RTT through delaying proxies
 */

/** Bench name → module file (without extension, beside this one) exporting `main(args)`. */
const BENCHES: Readonly<Record<string, string>> = {
  classify: './classify.js',
  failover: './failover.js',
  overhead: './overhead.js',
  ryw: './ryw.js',
  multiprocess: './multiprocess.js',
  rtt: './rtt.js',
  owngtid: './owngtid.js',
};

interface BenchModule {
  main(args: readonly string[]): Promise<void>;
}

const [name, ...args] = process.argv.slice(2);
const file = name !== undefined ? BENCHES[name] : undefined;
if (file === undefined) {
  process.stderr.write(
    `bench: ${name === undefined ? 'no bench named' : `unknown bench '${name}'`}: use one of ${Object.keys(BENCHES).join(', ')}\n`,
  );
  process.exitCode = 2;
} else {
  let mod: BenchModule;
  try {
    mod = (await import(file)) as BenchModule;
  } catch (e) {
    process.stderr.write(`bench: cannot load the '${name}' bench (${file}): ${(e as Error).message}\n`);
    process.exitCode = 1;
    throw e;
  }
  await mod.main(args);
}
