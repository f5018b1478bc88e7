// Health monitor on a real mariadb cluster of our own (these tests kill and promote nodes).
import { healthScenarios } from './health-scenarios.js';

await healthScenarios('mariadb');
