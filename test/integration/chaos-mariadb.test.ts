// Fault injection under load, MariaDB (issue 9): the PostgreSQL schedule, plus a replica made to
// diverge (its gtid_slave_pos set past anything the primary has). Acknowledged writes lost with the
// old primary are reported (asynchronous replication); every other invariant is asserted.
import { chaosTest } from '../harness/chaos-suite.js';

await chaosTest({ label: 'mariadb', engine: 'mariadb' });
