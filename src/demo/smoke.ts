import type { DashboardState } from '../dashboard/collector.js';
import type { RunningDemo } from './run.js';

/** One browser: keeps the cookies the app sets, follows the POST → 303 → GET by hand. */
class Visitor {
  readonly #base: string;
  #cookies = new Map<string, string>();

  constructor(base: string) {
    this.#base = base.replace(/\/$/, '');
  }

  #remember(r: Response): void {
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (pair && eq > 0) this.#cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }

  #headers(): Record<string, string> {
    return this.#cookies.size ? { cookie: [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {};
  }

  async get(pathname: string): Promise<{ status: number; text: string }> {
    const r = await fetch(this.#base + pathname, { headers: this.#headers(), signal: AbortSignal.timeout(10_000) });
    this.#remember(r);
    return { status: r.status, text: await r.text() };
  }

  /** Posts a note; returns its id and the page the redirect leads to. */
  async addNote(author: string, body: string): Promise<{ id: number; page: string }> {
    const r = await fetch(`${this.#base}/notes`, {
      method: 'POST', body: new URLSearchParams({ author, body }), redirect: 'manual', headers: this.#headers(), signal: AbortSignal.timeout(20_000),
    });
    this.#remember(r);
    await r.arrayBuffer();
    const location = r.headers.get('location') ?? '';
    if (r.status !== 303 || !location) throw new Error(`POST /notes answered ${r.status}, not 303 with a Location`);
    const id = Number(new URL(location, this.#base).searchParams.get('added'));
    const page = await this.get(location);
    if (page.status !== 200) throw new Error(`GET ${location} after the redirect answered ${page.status}`);
    return { id, page: page.text };
  }
}

const hasNote = (page: string, id: number): boolean => page.includes(`data-note-id="${id}"`);

async function until<T>(what: string, timeoutMillis: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMillis} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The scripted scenario of `dbrouter demo --smoke`: writes and reads through the app, replay
 * paused (the writer still sees its note after the redirect; the health checks move reads to the
 * primary), resumed, then the primary killed and a replica promoted (writes resume there). Checks
 * every step through the app, the dashboard's JSON and the cluster's statistics; prints each.
 * Resolves true only when every step behaved.
 *
 * @example
 *   const ok = await runSmoke(demo, (line) => process.stdout.write(`${line}\n`));
 */
export async function runSmoke(demo: RunningDemo, print: (line: string) => void): Promise<boolean> {
  const user = new Visitor(demo.appUrl);
  const passerby = new Visitor(demo.appUrl);
  const state = async (): Promise<DashboardState> => {
    const r = await fetch(`${demo.dashboardUrl}state`, { signal: AbortSignal.timeout(5000) });
    if (!r.ok) throw new Error(`dashboard /state answered ${r.status}`);
    return (await r.json()) as DashboardState;
  };
  const stats = () => demo.cluster.stats().byAlias;
  const [first, second] = demo.local.replicaAliases;
  const primary = demo.local.primaryAlias;
  if (!first || !second) throw new Error('the smoke scenario needs 2 replicas');
  let failed = 0;

  const step = async (name: string, run: () => Promise<string | void>): Promise<boolean> => {
    const t0 = performance.now();
    try {
      const detail = await run();
      print(`  ok    ${name} (${Math.round(performance.now() - t0)} ms)${detail ? `: ${detail}` : ''}`);
      return true;
    } catch (e) {
      failed++;
      print(`  FAIL  ${name} (${Math.round(performance.now() - t0)} ms): ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  };

  await step('write a note: POST → 303 → the GET shows it', async () => {
    const { id, page } = await user.addNote('smoke', 'first note');
    if (!hasNote(page, id)) throw new Error(`note #${id} missing from the page after the redirect`);
    return `note #${id}`;
  });

  await step('a visitor without a recent write reads from the replicas', async () => {
    await demo.local.waitForAllReplicas();
    const before = stats();
    const page = await passerby.get('/');
    if (page.status !== 200) throw new Error(`GET / answered ${page.status}`);
    const after = stats();
    const grew = (alias: string) => (after[alias]?.statements ?? 0) - (before[alias]?.statements ?? 0);
    if (grew(primary) !== 0) throw new Error(`${grew(primary)} statements went to the primary`);
    if (grew(first) + grew(second) < 2) throw new Error('the page\'s 2 reads did not reach the replicas');
    return `${grew(first)} on ${first}, ${grew(second)} on ${second}`;
  });

  let pausedNote = 0;
  await step(`pause replay on ${first} and ${second}`, async () => {
    await demo.local.pause(first);
    await demo.local.pause(second);
  });

  await step('write while replicas are paused: the GET after the redirect still shows the note', async () => {
    const { id, page } = await user.addNote('smoke', 'written while replicas are paused');
    pausedNote = id;
    if (!hasNote(page, id)) throw new Error(`note #${id} missing after the redirect: read-your-writes failed`);
    const onReplica = await demo.cluster.using(first, () => demo.app.db.selectFrom('notes').select('id').where('id', '=', id).executeTakeFirst());
    if (onReplica) throw new Error(`${first} already has note #${id}: its replay is not paused`);
    return `note #${id}; ${first} does not have it yet`;
  });

  await step('the health checks see the lag and move reads to the primary', async () => {
    const s = await until('both replicas lagging on the dashboard', 15_000, async () => {
      // Keep writing so the lag grows, as real traffic would.
      await user.addNote('smoke', 'more writes while paused');
      const st = await state();
      const lagging = st.nodes.filter((n) => n.role === 'replica' && n.state === 'lagging');
      return lagging.length === 2 && st;
    });
    const page = await passerby.get('/');
    if (!hasNote(page.text, pausedNote)) throw new Error(`a cookieless read did not see note #${pausedNote}: reads still go to the paused replicas`);
    const lags = s.nodes.filter((n) => n.role === 'replica').map((n) => `${n.alias} ${n.lagMillis ?? '?'} ms`);
    return `lag ${lags.join(', ')}; chart has ${s.lag.length} samples`;
  });

  await step('resume replay: the replicas catch up and serve reads again', async () => {
    await demo.local.resume(first);
    await demo.local.resume(second);
    await until('both replicas back in reads', 15_000, async () => {
      const st = await state();
      return st.nodes.filter((n) => n.role === 'replica' && n.state === 'up' && n.inRotation).length === 2;
    });
  });

  await step(`failover: kill the primary (${primary}) from the dashboard, post a note right after, promote ${first}: the note waits and lands there`, async () => {
    const failedBefore = stats()[primary]?.errors ?? 0;
    const r = await fetch(`${demo.dashboardUrl}control`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-dbrouter-dashboard': '1' },
      body: JSON.stringify({ action: 'kill', alias: primary }),
      signal: AbortSignal.timeout(15_000),
    });
    if (!r.ok) throw new Error(`dashboard kill answered ${r.status}`);
    // Posted before the health checks notice the dead primary: the insert (Kysely, a checked-out
    // client) is refused there, waits for a primary, and runs once one is promoted.
    const posting = user.addNote('smoke', 'posted right after the primary was killed');
    await until(`the app's insert refused by the dead primary (${primary})`, 10_000, () => Promise.resolve((stats()[primary]?.errors ?? 0) > failedBefore));
    await demo.local.promote(first);
    const { id, page } = await posting;
    if (!hasNote(page, id)) throw new Error(`note #${id} missing after the redirect`);
    const st = await until(`the dashboard showing ${first} as primary and ${primary} down`, 15_000, async () => {
      const s = await state();
      return s.primary === first && s.nodes.find((n) => n.alias === primary)?.state === 'down' && s;
    });
    if (!st.events.some((e) => e.text.includes(`→ ${first}`))) throw new Error('no primary-changed event on the dashboard');
    return `note #${id} posted while ${primary} was dead`;
  });

  await step(`writes resume on the new primary (${first})`, async () => {
    const before = stats()[first]?.writes ?? 0;
    const { id, page } = await user.addNote('smoke', 'after the failover');
    if (!hasNote(page, id)) throw new Error(`note #${id} missing after the redirect`);
    const after = stats()[first]?.writes ?? 0;
    if (after <= before) throw new Error(`no write counted on ${first}`);
    return `note #${id} written on ${first}`;
  });

  return failed === 0;
}
