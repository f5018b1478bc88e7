// Fault injection under load, PostgreSQL with synchronous replication (`ANY 1 (*)`, issue 9): the
// same schedule as chaos-postgres.test.ts, and no acknowledged write may be lost.
import { chaosTest } from '../harness/chaos-suite.js';

await chaosTest({ label: 'postgres-sync', engine: 'postgres', sync: true });
