// Health and failover through the routed pools under concurrent load, on a mariadb cluster of our own.
import { failoverScenarios } from './failover-scenarios.js';

await failoverScenarios('mariadb');
