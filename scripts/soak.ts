// A long chaos run (test/harness/chaos.ts, faults: 'soak'): random faults one at a time — replay
// paused, a replica killed or frozen (SIGSTOP), the primary frozen for a few seconds, the primary
// killed and the most advanced replica promoted, the old primary rejoining — under 16 users, then
// the whole history checked. Not part of `npm test` (minutes per engine); run it after changing
// routing, health or consistency code:
//
//   npm run soak -- --engine postgres --minutes 10 --seed 7
//   npm run soak -- --engine mariadb --minutes 5
//   npm run soak -- --engine postgres --sync        (synchronous replication: 0 lost writes asserted)
//   npm run soak -- --engine mariadb --fault 'restart the primary' --fault 'failover'
//
// Exit code 0 when every invariant held, 1 with each violation printed otherwise.
import { parseArgs } from 'node:util';
import { runChaos, SOAK_FAULTS, type SoakFault } from '../test/harness/chaos.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'postgres' },
    minutes: { type: 'string', default: '5' },
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    users: { type: 'string', default: '16' },
    sync: { type: 'boolean', default: false },
    // Repeatable: --fault 'restart the primary' --fault 'kill a replica' (default: every fault).
    fault: { type: 'string', multiple: true },
  },
});
const faults = values.fault?.map((f) => {
  if (!(SOAK_FAULTS as readonly string[]).includes(f)) throw new Error(`--fault must be one of: ${SOAK_FAULTS.join(', ')}`);
  return f as SoakFault;
});
const engine = values.engine;
if (engine !== 'postgres' && engine !== 'mariadb') throw new Error(`--engine must be postgres or mariadb, not ${engine}`);
const minutes = Number(values.minutes);
const seed = Number(values.seed);
const users = Number(values.users);
if (!(minutes > 0) || !Number.isInteger(seed) || !(users > 0)) throw new Error('--minutes, --seed and --users take positive numbers');

const soakMillis = minutes * 60_000;
const report = await runChaos({
  label: `${engine}${values.sync ? '-sync' : ''}-soak`,
  engine,
  sync: values.sync,
  users,
  faults: 'soak',
  soakMillis,
  seed,
  ...(faults ? { soakFaults: faults } : {}),
  // Slower users than the CI runs: the history is kept in memory for the final check.
  thinkMillis: [5, 15],
  budgetMillis: soakMillis + 180_000,
  log: (line) => process.stdout.write(`${line}\n`),
});
process.stdout.write(`${report.summary}\n`);
for (const v of report.violations) process.stdout.write(`VIOLATION: ${v}\n`);
process.exitCode = report.violations.length === 0 ? 0 : 1;
