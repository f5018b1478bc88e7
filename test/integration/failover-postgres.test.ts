// Health and failover through the routed pools under concurrent load, on a postgres cluster of our own.
import { failoverScenarios } from './failover-scenarios.js';

await failoverScenarios('postgres');
