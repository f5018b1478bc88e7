// A node that goes silent under a statement (issue 9 follow-up) on a mariadb cluster of our own (mysql2 and the mariadb connector).
import { silentNodeScenarios } from './silent-node-scenarios.js';

await silentNodeScenarios('mariadb');
