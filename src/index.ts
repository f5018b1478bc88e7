export { DbRouterError, isDbRouterError } from './errors.js';
export type { ErrorCode } from './errors.js';
