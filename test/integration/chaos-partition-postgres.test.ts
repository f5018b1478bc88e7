// Partitions under load, PostgreSQL (issue 9's fault rules, a network that goes silent rather than a
// crash): 16 users through the routed pool while, behind TCP proxies, a replica goes silent, then the
// primary (no promotion: it comes back), then both replicas, then the primary's link slows. The
// history check is in test/harness/chaos.ts.
import { chaosTest } from '../harness/chaos-suite.js';

await chaosTest({ label: 'postgres-partition', engine: 'postgres', faults: 'partition' });
