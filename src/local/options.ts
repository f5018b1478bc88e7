import { checkBoolean, checkChoice, checkFunction, checkMillis, checkObject, checkOptions, checkString, checkWhole, invalidConfig, shown } from '../options.js';

const KEYS = ['engine', 'replicas', 'dir', 'basePort', 'binDir', 'postgresSource', 'dataRoot', 'settings', 'sync', 'startTimeoutMillis', 'catchUpTimeoutMillis', 'onProgress', 'signal'];

/** Checks `startCluster()` options; `CONFIG_INVALID` naming the key and what to write. */
export function checkStartOptions(options: unknown): void {
  const o = checkOptions('startCluster() options', options, KEYS, "{ engine: 'postgres', replicas: 2 }");
  if (o.engine === undefined) throw invalidConfig("startCluster() needs engine: 'postgres' or engine: 'mariadb'.");
  checkChoice('startCluster() engine', o.engine, ['postgres', 'mariadb']);
  checkWhole('startCluster() replicas', o.replicas, 1, 20, 2);
  checkString('startCluster() dir', o.dir, "'./.dbrouter/cluster-postgres'");
  checkWhole('startCluster() basePort', o.basePort, 1, 65535, 25432);
  checkString('startCluster() binDir', o.binDir, "'/usr/lib/postgresql/15/bin'");
  checkChoice('startCluster() postgresSource', o.postgresSource, ['auto', 'system', 'embedded']);
  checkString('startCluster() dataRoot', o.dataRoot, "'/tmp/dbrouter-data'");
  if (o.settings !== undefined) {
    checkObject('startCluster() settings', o.settings, "{ max_connections: '200' }");
    for (const [k, v] of Object.entries(o.settings)) {
      if (typeof v !== 'string' && typeof v !== 'number') throw invalidConfig(`startCluster() settings.${k} must be a string such as '200', not ${shown(v)}.`);
    }
  }
  checkBoolean('startCluster() sync', o.sync);
  checkMillis('startCluster() startTimeoutMillis', o.startTimeoutMillis, 1);
  checkMillis('startCluster() catchUpTimeoutMillis', o.catchUpTimeoutMillis, 1);
  checkFunction('startCluster() onProgress', o.onProgress, '(step) => console.log(step)');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidConfig('startCluster() signal must be an AbortSignal (new AbortController().signal).');
}
