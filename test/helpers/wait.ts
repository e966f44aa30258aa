// Polling waits for tests: real processes and sockets settle in their own time.

/** Resolves once `check()` is true; rejects after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 3_000, pollMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Resolves with the first defined value of `probe()` (errors count as undefined). */
export async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, pollMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
