// Health monitor on a real postgres cluster of our own (these tests kill and promote nodes).
import { healthScenarios } from './health-scenarios.js';

await healthScenarios('postgres');
