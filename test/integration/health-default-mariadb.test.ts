// Safe by default when nodes fail (issue 9 items 4, 5) on a real mariadb cluster of our own.
import { healthDefaultScenarios } from './health-default-scenarios.js';

await healthDefaultScenarios('mariadb');
