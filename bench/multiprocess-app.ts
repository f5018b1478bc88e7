/**
 * One app process of the multi-process bench (bench/multiprocess.ts), started by `node:cluster`:
 * every process listens on the same port (the primary hands connections out round-robin), has its
 * own dbrouter cluster and pools, and shares only the consistency secret with the others. So a
 * user's token, written by one process, is checked by whichever process gets the next request.
 *
 * Routes: `POST /w?u=USER&v=N` inserts (user, v); `GET /r?u=USER` answers the user's highest v and
 * the port of the server that ran the read; `GET /stats` answers this process's counters and memory.
 * The token travels in the `X-DBRouter-Token` header (the middleware's cookie works the same way).
 */
import { createServer } from 'node:http';
import { createCluster } from '../src/index.js';
import { createPgPool } from '../src/engines/postgres/index.js';
import { expressConsistency } from '../src/http/express.js';

const databases = JSON.parse(process.env.DBROUTER_BENCH_DATABASES ?? '{}') as Record<string, string>;
const secret = process.env.DBROUTER_BENCH_SECRET ?? '';
const cluster = createCluster({ databases, consistency: { level: 'session', secret } });
const pool = createPgPool(cluster);
pool.on('error', () => undefined);
const middleware = expressConsistency({ cluster, secret, cookie: false });
let served = 0;
let failed = 0;

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://app');
  const reply = (status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (url.pathname === '/stats') {
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    reply(200, { pid: process.pid, served, failed, heapUsed: m.heapUsed, rss: m.rss, consistency: cluster.consistencyStats(), stats: cluster.stats() });
    return;
  }
  middleware(req, res, () => {
    const user = Number(url.searchParams.get('u'));
    const work = url.pathname === '/w'
      ? pool.query('INSERT INTO mp_writes (user_id, v) VALUES ($1, $2)', [user, Number(url.searchParams.get('v'))]).then(() => ({ pid: process.pid }))
      : pool.query<{ v: number; port: number }>('SELECT coalesce(max(v), 0) AS v, inet_server_port() AS port FROM mp_writes WHERE user_id = $1', [user])
        .then((r) => ({ pid: process.pid, v: Number(r.rows[0]!.v), port: Number(r.rows[0]!.port) }));
    work.then((body) => {
      served++;
      reply(200, body);
    }, (e: unknown) => {
      failed++;
      reply(500, { pid: process.pid, error: (e as Error).message });
    });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.DBROUTER_BENCH_PORT), '127.0.0.1', () => process.send?.('listening'));
process.on('disconnect', () => {
  server.close();
  void pool.end().then(() => cluster.end()).finally(() => process.exit(0));
});
