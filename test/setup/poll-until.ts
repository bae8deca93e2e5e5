/**
 * Re-evaluates `fn` until it returns a truthy value (returned) or the timeout passes (throws, naming what was awaited).
 * For tests: wait on observable state instead of sleeping for a guessed time.
 */
export type PollOptions = { timeoutMs?: number; intervalMs?: number; what?: string };

export async function pollUntil<T>(
  fn: () => T | Promise<T>,
  opts: PollOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`pollUntil: ${opts.what ?? 'condition'} not met within ${timeoutMs} ms${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
