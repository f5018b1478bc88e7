// Failure outcomes (issue 9, items 2, 3, 7) on a mariadb cluster of our own.
import { failureOutcomeScenarios } from './failure-outcomes-scenarios.js';

await failureOutcomeScenarios('mariadb');
