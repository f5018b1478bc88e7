// Runs the dbrouter CLI from source (tests spawn it: `node --import tsx test/harness/run-cli.ts cluster up ...`),
// so they do not depend on a fresh `dist/` build.
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
