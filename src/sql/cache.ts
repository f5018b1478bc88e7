/**
 * A bounded cache of decisions by statement text: two generations of `Map`. New entries go to the
 * young map; when it is full it becomes the old map and the previous old map is dropped; a hit in
 * the old map is copied to the young one. That keeps recently used texts like an LRU does, with
 * no reordering on a hit (a hit in the young map is one `Map.get`) and at most `capacity` entries.
 *
 * @example
 *   const cache = new DecisionCache<Classification>(1000);
 *   cache.get(sql) ?? cache.set(sql, classify(sql, 'postgres'));
 */
export class DecisionCache<V> {
  #young = new Map<string, V>();
  #old = new Map<string, V>();
  readonly #half: number;

  constructor(capacity: number) {
    this.#half = Math.max(1, Math.ceil(capacity / 2));
  }

  get(key: string): V | undefined {
    const v = this.#young.get(key);
    if (v !== undefined) return v;
    const old = this.#old.get(key);
    if (old !== undefined) this.#put(key, old);
    return old;
  }

  /** Stores `value` and returns it. */
  set(key: string, value: V): V {
    this.#put(key, value);
    return value;
  }

  /** Entries held, counting a text held by both generations twice; never above the capacity. */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  clear(): void {
    this.#young = new Map();
    this.#old = new Map();
  }

  #put(key: string, value: V): void {
    if (this.#young.size >= this.#half) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }
}
