// Fault injection under load, PostgreSQL with asynchronous replication (issue 9): 16 users through
// the routed pool while replicas are paused, killed and restarted, the primary is killed while
// every replica lags and the most advanced one is promoted, and the old primary rejoins. The history
// check is in test/harness/chaos.ts; acknowledged writes lost with the old primary are reported here
// (asynchronous replication may lose them), every other invariant is asserted.
import { chaosTest } from '../harness/chaos-suite.js';

await chaosTest({ label: 'postgres-async', engine: 'postgres' });
