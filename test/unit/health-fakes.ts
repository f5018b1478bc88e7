// Fakes for the health tests: a clock that moves only when told, and a prober whose every node's
// answer the test sets.
import type { Clock, TimerHandle } from '../../src/health/clock.js';
import type { MonitoredNode, NodeProbe, ProbeResult, Prober } from '../../src/engines/probe.js';

// A clock whose time moves only when the test says; timers fire in order, and the promises they
// start settle before time moves on.
export class FakeClock implements Clock {
  #now = 1_000_000;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  now(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number): number {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  }
  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (;;) {
      let first: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].at <= target && (!first || entry[1].at < first[1].at)) first = entry;
      if (!first) break;
      this.#timers.delete(first[0]);
      this.#now = first[1].at;
      first[1].fn();
      await settle();
    }
    this.#now = target;
    await settle();
  }
}

export const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

export type Behaviour = ProbeResult | Error | 'hang';

// Positions are plain integers as strings; "reached" is numeric comparison.
export class FakeProber implements Prober {
  readonly positionUnit = 'bytes' as const;
  readonly behaviour = new Map<string, Behaviour>();
  readonly checks = new Map<string, number>();
  readonly aborted: string[] = [];
  forNode(node: MonitoredNode): NodeProbe {
    return {
      check: (signal) => {
        this.checks.set(node.alias, (this.checks.get(node.alias) ?? 0) + 1);
        const b = this.behaviour.get(node.alias) ?? new Error('ECONNREFUSED');
        if (b === 'hang') {
          return new Promise((_, reject) => signal.addEventListener('abort', () => {
            this.aborted.push(node.alias);
            reject(new Error('aborted'));
          }));
        }
        return b instanceof Error ? Promise.reject(b) : Promise.resolve(b);
      },
      close: () => Promise.resolve(),
    };
  }
  reached(have: string, want: string): boolean {
    return Number(have) >= Number(want);
  }
  holdsMore(replica: string, primary: string): boolean {
    return Number(replica) > Number(primary);
  }
  distance(have: string, want: string): number {
    return Math.max(0, Number(want) - Number(have));
  }
  count(alias: string): number {
    return this.checks.get(alias) ?? 0;
  }
}

export const primary = (position = '100'): ProbeResult => ({ role: 'primary', position, replayPosition: position, lagMillis: 0, upstream: undefined, paused: false });
export const replica = (replay = '100', lagMillis: number | undefined = 0, upstream?: string): ProbeResult => ({
  role: 'replica', position: replay, replayPosition: replay, lagMillis, upstream, paused: false,
});
