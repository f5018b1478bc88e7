import { checkFunction, checkMillis, checkObject, checkOptions, checkString, checkWhole, invalidConfig, shown } from '../options.js';

// The keys of the health options, checked when a monitor or `watchCluster` is made, so a misspelt
// option (`maxReplicationLag`) fails at once instead of silently keeping its default.
// A new option of HealthMonitorOptions / ClusterHealthOptions must be added here too.

const MILLIS = ['checkIntervalMillis', 'checkTimeoutMillis', 'maxReplicationLagMillis', 'caughtUpLagMillis', 'primarySearchIntervalMillis'];
const COUNTS = ['failuresBeforeDown', 'checksBeforeUp'];

/** Options a `HealthMonitor` takes besides `nodes`, `prober` and `clock`. */
export const MONITOR_OPTION_KEYS: readonly string[] = [...MILLIS, ...COUNTS, 'minReplicasInRotation', 'onPrimaryLost'];

/** What `watchCluster(cluster, options)` takes. */
export const CLUSTER_HEALTH_OPTION_KEYS: readonly string[] = [...MONITOR_OPTION_KEYS, 'clock', 'failoverTimeoutMillis', 'monitor', 'prober'];

function checkCommon(where: string, o: Record<string, unknown>): void {
  for (const k of MILLIS) checkMillis(`${where}.${k}`, o[k]);
  for (const k of COUNTS) checkWhole(`${where}.${k}`, o[k], 1, Number.MAX_SAFE_INTEGER, 2);
  checkWhole(`${where}.minReplicasInRotation`, o.minReplicasInRotation, 0, Number.MAX_SAFE_INTEGER, 1);
  checkFunction(`${where}.onPrimaryLost`, o.onPrimaryLost, "({ lost }) => promote()");
  if (o.clock !== undefined) checkObject(`${where}.clock`, o.clock, 'systemClock');
}

/** Checks `watchCluster()` options; `CONFIG_INVALID` naming the key and what to write. */
export function checkClusterHealthOptions(options: unknown, where = 'watchCluster() options'): void {
  const o = checkOptions(where, options, CLUSTER_HEALTH_OPTION_KEYS, '{ maxReplicationLagMillis: 2000, failoverTimeoutMillis: 5000 }');
  checkCommon(where, o);
  checkMillis(`${where}.failoverTimeoutMillis`, o.failoverTimeoutMillis);
  if (o.monitor !== undefined) {
    const m = checkOptions(`${where}.monitor`, o.monitor, ['user', 'password'], "{ user: 'monitor', password: process.env.MONITOR_PASSWORD }");
    checkString(`${where}.monitor.user`, m.user, "'monitor'");
    if (m.password !== undefined && typeof m.password !== 'string') throw invalidConfig(`${where}.monitor.password must be a string, not ${shown(typeof m.password)}.`);
  }
  if (o.prober !== undefined) checkObject(`${where}.prober`, o.prober, 'a Prober');
}

/** Checks `new HealthMonitor(options)`. */
export function checkMonitorOptions(options: unknown, where = 'HealthMonitor options'): void {
  // watchCluster hands its own options on to its monitor: accept those keys too.
  const o = checkOptions(where, options, [...CLUSTER_HEALTH_OPTION_KEYS, 'nodes'], '{ nodes, prober, checkIntervalMillis: 1000 }');
  checkCommon(where, o);
  if (!Array.isArray(o.nodes)) throw invalidConfig(`${where}.nodes must be an array of { alias, configuredRole, … }, not ${shown(o.nodes)}.`);
  checkObject(`${where}.prober`, o.prober, 'postgresProber()');
}
