import { checkBoolean, checkFunction, checkOptions, checkString, invalidConfig, shown } from '../options.js';

/**
 * Checks the arguments of `createPgPool(cluster, options)` / `createMysqlPool(cluster, options)`:
 * a cluster (anything carrying the cluster internals) and known options.
 */
export function checkPoolArguments(where: 'createPgPool' | 'createMysqlPool', cluster: unknown, internals: symbol, options: unknown): void {
  if (typeof cluster !== 'object' || cluster === null || !(internals in cluster)) {
    throw invalidConfig(`${where}() takes a cluster: ${where}(createCluster({ databases })), not ${shown(cluster)}.`);
  }
  const o = checkOptions(`${where}() options`, options, where === 'createMysqlPool' ? ['createPool', 'pinned', 'onConnect', 'queryOptions', 'multipleStatements', 'readOnly'] : ['createPool', 'pinned', 'onConnect', 'readOnly', 'poolConfig'], "{ pinned: 'default' }");
  checkFunction(`${where}() createPool`, o.createPool, '(config, alias) => new Pool(config)');
  checkString(`${where}() pinned`, o.pinned, "'default'");
  checkBoolean(`${where}() readOnly`, o.readOnly);
}
