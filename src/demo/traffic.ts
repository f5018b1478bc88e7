const AUTHORS = ['Ada', 'Grace', 'Edgar', 'Barbara', 'Michael', 'Frances', 'Jim', 'Leslie'];
const LINES = [
  'Reads come from a replica.', 'This one went to the primary.', 'Pause a replica and watch the lag chart.',
  'Kill the primary, promote a replica: writes follow.', 'Hello from the background traffic.',
];

/** Counters of the background traffic, for the demo's closing line. */
export interface TrafficStats {
  reads: number;
  writes: number;
  failed: number;
}

/**
 * Light, bounded background traffic against the demo app over HTTP, as a cookieless visitor
 * would send it (so its reads go to replicas): a page view every `readEveryMillis`, a note every
 * `writeEveryMillis`, until `stop()` or `maxMillis`. Failures (during a failover) are counted, not thrown.
 *
 * @example
 *   const traffic = startTraffic('http://127.0.0.1:3000', { readEveryMillis: 400, writeEveryMillis: 2500, maxMillis: 1_800_000 });
 *   await traffic.stop();
 */
export function startTraffic(
  appUrl: string,
  options: { readEveryMillis: number; writeEveryMillis: number; maxMillis: number; afterWrite?: (count: number) => Promise<void> },
): { stats: TrafficStats; stop(): Promise<void> } {
  const stats: TrafficStats = { reads: 0, writes: 0, failed: 0 };
  const abort = new AbortController();
  const inFlight = new Set<Promise<void>>();
  const track = (p: Promise<void>): void => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const read = async (): Promise<void> => {
    try {
      const r = await fetch(`${appUrl}/`, { signal: abort.signal });
      await r.arrayBuffer();
      if (r.ok) stats.reads++;
      else stats.failed++;
    } catch {
      if (!abort.signal.aborted) stats.failed++;
    }
  };
  const write = async (): Promise<void> => {
    const n = stats.writes + stats.failed;
    const form = new URLSearchParams({ author: AUTHORS[n % AUTHORS.length]!, body: LINES[n % LINES.length]! });
    try {
      const r = await fetch(`${appUrl}/notes`, { method: 'POST', body: form, redirect: 'manual', signal: abort.signal });
      await r.arrayBuffer();
      if (r.status === 303) {
        stats.writes++;
        await options.afterWrite?.(stats.writes).catch(() => undefined);
      } else stats.failed++;
    } catch {
      if (!abort.signal.aborted) stats.failed++;
    }
  };
  // One request of each kind at a time: a slow database never piles requests up.
  let reading = false;
  let writing = false;
  const readTimer = setInterval(() => {
    if (reading) return;
    reading = true;
    track(read().finally(() => (reading = false)));
  }, options.readEveryMillis);
  const writeTimer = setInterval(() => {
    if (writing) return;
    writing = true;
    track(write().finally(() => (writing = false)));
  }, options.writeEveryMillis);
  const stopTimer = setTimeout(() => void stop(), options.maxMillis);
  for (const t of [readTimer, writeTimer, stopTimer]) t.unref();

  async function stop(): Promise<void> {
    clearInterval(readTimer);
    clearInterval(writeTimer);
    clearTimeout(stopTimer);
    abort.abort();
    await Promise.allSettled([...inFlight]);
  }
  return { stats, stop };
}
