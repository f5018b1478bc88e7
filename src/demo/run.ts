import http, { type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { createCluster, type Cluster } from '../cluster/cluster.js';
import { dashboard, type DashboardHandler } from '../dashboard/dashboard.js';
import { DbRouterError } from '../errors.js';
import { watchCluster, type ClusterHealth } from '../health/cluster-health.js';
import { expressConsistency } from '../http/express.js';
import { destroyClusterSync, startCluster } from '../local/local-cluster.js';
import type { Engine, LocalCluster } from '../local/types.js';
import { createDemoApp, migrate, type DemoApp } from './app.js';
import { startTraffic, type TrafficStats } from './traffic.js';

/** Options of {@link startDemo}. */
export interface DemoOptions {
  readonly engine: Engine;
  /** The guestbook's port; 0 picks a free one. */
  readonly port: number;
  /** The dashboard's port; 0 picks a free one. */
  readonly dashboardPort: number;
  /** Listen address; the dashboard answers only loopback clients whatever this is. Default 127.0.0.1. */
  readonly host?: string;
  readonly replicas?: number;
  /** Cluster directory. Default: a fresh folder in the OS temp dir, removed at the end. */
  readonly dir?: string;
  /** Background traffic; `false` for none. */
  readonly traffic?: { readonly readEveryMillis: number; readonly writeEveryMillis: number; readonly maxMillis: number } | false;
  /** Health checks every this many ms (the dashboard's resolution). Default 250. */
  readonly checkIntervalMillis?: number;
  /** A replica further behind leaves the reads. Default 2000. */
  readonly maxReplicationLagMillis?: number;
  readonly onProgress?: (line: string) => void;
  /** Aborting stops the start-up and removes whatever it had started. */
  readonly signal?: AbortSignal;
}

/** A running demo: the cluster, the app, the dashboard. `stop()` removes all of it. */
export interface RunningDemo {
  readonly appUrl: string;
  readonly dashboardUrl: string;
  readonly local: LocalCluster;
  readonly cluster: Cluster;
  readonly health: ClusterHealth;
  readonly app: DemoApp;
  readonly traffic: TrafficStats | undefined;
  /** Milliseconds from the call to the URLs being served. */
  readonly startupMillis: number;
  stop(): Promise<void>;
}

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

/** Binds a server now, answering 503 until `handler` is set: a port in use fails before the cluster starts. */
async function bind(port: number, host: string, what: string, flag: string): Promise<{ server: http.Server; url: string; set(h: RequestListener): void }> {
  let handler: RequestListener = (_req, res) => {
    res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
    res.end('the dbrouter demo is starting');
  };
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') {
        reject(new DbRouterError('PORT_IN_USE', `port ${port} on ${host} (${what}) is in use: pass ${flag} N with a free port, or ${flag} 0 for any free port.`, { cause: e }));
      } else if (e.code === 'EACCES') {
        reject(new DbRouterError('PORT_IN_USE', `port ${port} on ${host} (${what}) needs privileges: pass ${flag} N above 1023.`, { cause: e }));
      } else reject(e);
    });
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}/`, set: (h) => (handler = h) };
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Starts the whole demo: a local cluster (primary + replicas), a dbrouter cluster with health
 * checks over it, the guestbook app, the dashboard with controls, and light background traffic.
 *
 * @example
 *   const demo = await startDemo({ engine: 'postgres', port: 3000, dashboardPort: 3001, onProgress: console.log });
 *   console.log(demo.appUrl, demo.dashboardUrl);
 *   await demo.stop();
 */
export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const started = performance.now();
  const host = options.host ?? '127.0.0.1';
  const progress = options.onProgress ?? (() => {});
  const signal = options.signal;
  const cleanups: (() => Promise<void> | void)[] = [];
  const servers: http.Server[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // Requests first, then what they use, then the cluster under it.
    await Promise.all(servers.map(close));
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch {
        // keep tearing down: every later step still has to run
      }
    }
  };
  const checkAbort = (): void => {
    if (signal?.aborted) throw new DbRouterError('USAGE', 'interrupted during start-up');
  };

  try {
    const appServer = await bind(options.port, host, 'the demo app', '--port');
    servers.push(appServer.server);
    const dashServer = await bind(options.dashboardPort, host, 'the dashboard', '--dashboard-port');
    servers.push(dashServer.server);
    checkAbort();

    const replicas = options.replicas ?? 2;
    progress(`starting a local ${options.engine} primary + ${replicas} replicas`);
    const dir = options.dir ?? path.join(tmpdir(), `dbrouter-demo-${process.pid}`);
    // Last resort if the process dies without stop(): the servers are detached, so kill them by pid.
    const onExit = (): void => destroyClusterSync(dir);
    process.once('exit', onExit);
    cleanups.push(() => void process.off('exit', onExit));
    const local = await startCluster({
      engine: options.engine, replicas, dir, onProgress: (step) => progress(`  ${step}`), ...(signal ? { signal } : {}),
    });
    cleanups.push(() => local.down());
    progress(`cluster up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    checkAbort();

    const databases = Object.fromEntries(Object.entries(local.databases).map(([alias, d]) => [alias, { url: d.url, role: d.role }]));
    const cluster = createCluster({ databases });
    cluster.on('error', () => undefined);
    cleanups.push(() => cluster.end());
    const health = watchCluster(cluster, {
      checkIntervalMillis: options.checkIntervalMillis ?? 250,
      checkTimeoutMillis: 1000,
      maxReplicationLagMillis: options.maxReplicationLagMillis ?? 2000,
      failoverTimeoutMillis: 15_000,
    });
    health.on('error', () => undefined);
    cleanups.push(() => health.stop());
    await health.start();
    checkAbort();

    const panel: DashboardHandler = dashboard(cluster, {
      health,
      localCluster: local,
      controls: true,
      sampleIntervalMillis: 500,
      // The demo's dashboard has controls that kill servers: only this machine may use it.
      authorize: (req) => isLoopback(req.socket.remoteAddress),
    });
    cleanups.push(() => panel.close());

    // Read-your-writes across the POST → redirect → GET: the write's position travels in a signed
    // cookie, and the GET reads from a replica that has replayed it, else from the primary. A demo
    // signs with a per-process secret (development); an app passes its own secret.
    const readYourWrites = expressConsistency({ cluster, development: true });
    const app = createDemoApp({ cluster, readYourWrites, dashboardUrl: dashServer.url, onError: (line) => progress(`app: ${line}`) });
    cleanups.push(() => app.db.destroy());
    await migrate(app.db, cluster.engine);
    await local.waitForAllReplicas();
    checkAbort();

    appServer.set(app.app);
    dashServer.set(panel);
    let traffic: ReturnType<typeof startTraffic> | undefined;
    if (options.traffic) {
      let pruning = false;
      traffic = startTraffic(appServer.url.replace(/\/$/, ''), {
        ...options.traffic,
        // Keep the table small however long the demo runs.
        afterWrite: async (n) => {
          if (n % 50 !== 0 || pruning) return;
          pruning = true;
          try {
            await sql`DELETE FROM notes WHERE id < (SELECT m FROM (SELECT MAX(id) - 200 AS m FROM notes) AS x)`.execute(app.db);
          } finally {
            pruning = false;
          }
        },
      });
      cleanups.push(() => traffic?.stop());
    }
    return {
      appUrl: appServer.url,
      dashboardUrl: dashServer.url,
      local,
      cluster,
      health,
      app,
      traffic: traffic?.stats,
      startupMillis: performance.now() - started,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
