// A node that goes silent under a statement (issue 9 follow-up) on a postgres cluster of our own.
import { silentNodeScenarios } from './silent-node-scenarios.js';

await silentNodeScenarios('postgres');
