/** Polls `check` until it returns true; false on timeout. Never a fixed sleep standing in for a condition. */
export async function pollUntil(
  check: () => Promise<boolean> | boolean,
  options: { timeoutMillis: number; intervalMillis?: number; signal?: AbortSignal | undefined },
): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMillis;
  const interval = options.intervalMillis ?? 5;
  for (;;) {
    options.signal?.throwIfAborted();
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await delay(interval);
  }
}

export function delay(millis: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, millis));
}
