/**
 * Classifier throughput: statements per second of `classify` without the cache, and of a
 * `createClassifier` cache hit, over a realistic mix of ~20 statements (short ORM reads, long
 * reports, comments, strings, writes, transaction control), median of several rounds.
 *
 * `classify_per_sec` and `cached_per_sec` count per second of CPU time this process used, so a
 * shared machine whose other processes take the cores away does not distort the classifier's own
 * speed (GC threads count against it, so it errs low). The wall-clock rates are reported beside
 * them as `classify_wall_per_sec` and `cached_wall_per_sec`; on an idle machine the two agree.
 *
 * @example
 *   node --import tsx bench/classify.ts          # prints {"classify_per_sec":...,"cached_per_sec":...}
 *   const { classify_per_sec } = await runClassifyBench({ rounds: 5 });
 */
import { fileURLToPath } from 'node:url';
import { classify, createClassifier, type Dialect } from '../src/sql/index.js';

export interface ClassifyBenchOptions {
  /** Rounds to take the median of. Default 7. */
  readonly rounds?: number;
  /** Length of one round. Default 300. */
  readonly roundMillis?: number;
}

export interface ClassifyBenchResult {
  /** Uncached statements per CPU second (median of rounds). Target ≥ 1,000,000. */
  classify_per_sec: number;
  /** Cache hits per CPU second. */
  cached_per_sec: number;
  classify_wall_per_sec: number;
  cached_wall_per_sec: number;
}

interface Rate {
  cpu: number;
  wall: number;
}

/** The mix: what ORMs and hand-written code send, in both dialects. */
export const STATEMENTS: ReadonlyArray<readonly [string, Dialect]> = [
  ['SELECT 1', 'postgres'],
  ['SELECT "id", "email", "name" FROM "users" WHERE "id" = $1', 'postgres'],
  ['select `id`, `email` from `users` where `id` = ? limit 1', 'mysql'],
  ['INSERT INTO "orders" ("user_id", "total", "created_at") VALUES ($1, $2, $3) RETURNING "id"', 'postgres'],
  ['UPDATE `orders` SET `status` = ?, `updated_at` = NOW() WHERE `id` = ?', 'mysql'],
  ['DELETE FROM sessions WHERE expires_at < now()', 'postgres'],
  ['BEGIN', 'postgres'],
  ['COMMIT', 'mysql'],
  [
    `/* report: daily revenue, owner=analytics */
     SELECT date_trunc('day', o.created_at) AS day, c.name AS country, count(*) AS orders,
            sum(o.total) FILTER (WHERE o.status <> 'refunded') AS revenue
       FROM orders o
       JOIN users u ON u.id = o.user_id
       LEFT JOIN countries c ON c.code = u.country_code
      WHERE o.created_at >= $1 AND o.created_at < $2 -- half-open range
      GROUP BY 1, 2
      ORDER BY 1, 3 DESC
      LIMIT 500`,
    'postgres',
  ],
  [
    "SELECT p.id, p.title, p.body FROM posts p WHERE p.title LIKE '%update%' AND p.body NOT LIKE 'it''s deleted' ORDER BY p.id DESC LIMIT 20",
    'postgres',
  ],
  ["SELECT * FROM `events` WHERE `kind` = 'insert' # audit\n AND `at` > ? ORDER BY `at`", 'mysql'],
  ['SELECT * FROM accounts WHERE id = $1 FOR UPDATE', 'postgres'],
  ['WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval \'1 day\') SELECT count(*) FROM recent', 'postgres'],
  ['WITH moved AS (DELETE FROM queue WHERE id = $1 RETURNING *) INSERT INTO done SELECT * FROM moved', 'postgres'],
  ["SELECT nextval('orders_id_seq')", 'postgres'],
  ['SELECT LAST_INSERT_ID()', 'mysql'],
  ['SET search_path TO app, public', 'postgres'],
  ['SELECT u.*, (SELECT count(*) FROM orders o WHERE o.user_id = u.id) AS n FROM users u WHERE u.active AND u.id IN ($1, $2, $3, $4, $5)', 'postgres'],
  ["SELECT /*+ MAX_EXECUTION_TIME(1000) */ id, name FROM products WHERE name = 'a\\'b' AND price BETWEEN ? AND ?", 'mysql'],
  ['SHOW TABLES', 'mysql'],
];

function measure(fn: (i: number) => void, millis: number): Rate {
  // Batches of the whole mix, so the timers are read rarely.
  const batch = STATEMENTS.length * 500;
  let done = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(millis) * 1_000_000n;
  let now: bigint;
  do {
    for (let i = 0; i < batch; i++) fn(i);
    done += batch;
    now = process.hrtime.bigint();
  } while (now < deadline);
  const cpu = process.cpuUsage(cpu0);
  return { cpu: done / ((cpu.user + cpu.system) / 1e6), wall: done / (Number(now - start) / 1e9) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Measures classification throughput; see the module comment. */
export async function runClassifyBench(opts: ClassifyBenchOptions = {}): Promise<ClassifyBenchResult> {
  const rounds = opts.rounds ?? 7;
  const millis = opts.roundMillis ?? 300;
  const n = STATEMENTS.length;
  const sqls = STATEMENTS.map(([s]) => s);
  const dialects = STATEMENTS.map(([, d]) => d);
  const classifiers = { postgres: createClassifier({ dialect: 'postgres' }), mysql: createClassifier({ dialect: 'mysql' }) };
  let sink = 0;
  const uncached = (i: number): void => {
    const j = i % n;
    if (classify(sqls[j]!, dialects[j]!).target === 'replica') sink++;
  };
  const cached = (i: number): void => {
    const j = i % n;
    if (classifiers[dialects[j]!].classify(sqls[j]!).target === 'replica') sink++;
  };
  measure(uncached, 200); // warm-up
  measure(cached, 100);
  const u: Rate[] = [];
  const c: Rate[] = [];
  for (let r = 0; r < rounds; r++) {
    u.push(measure(uncached, millis));
    c.push(measure(cached, millis));
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (sink < 0) throw new Error('unreachable');
  const med = (rates: Rate[], key: keyof Rate): number => Math.round(median(rates.map((r) => r[key])));
  return {
    classify_per_sec: med(u, 'cpu'),
    cached_per_sec: med(c, 'cpu'),
    classify_wall_per_sec: med(u, 'wall'),
    cached_wall_per_sec: med(c, 'wall'),
  };
}

/** `npm run bench -- classify [--json]`: a human line, or with `--json` one JSON line. */
export async function main(args: readonly string[]): Promise<void> {
  const r = await runClassifyBench();
  if (args.includes('--json')) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const fmt = (n: number): string => n.toLocaleString('en-US');
  process.stdout.write(
    `classify: ${fmt(r.classify_per_sec)} statements per CPU second uncached (target ≥ 1,000,000), ` +
      `${fmt(r.cached_per_sec)} cached; wall clock ${fmt(r.classify_wall_per_sec)} uncached, ${fmt(r.cached_wall_per_sec)} cached\n`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await runClassifyBench();
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
