/**
 * Polls `probe` until it answers something truthy (a throw counts as "not yet", and the last
 * error is named if time runs out), every `interval_ms`, for at most `timeout_ms`.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  opts: { timeout_ms: number; interval_ms: number },
): Promise<T> {
  const deadline = Date.now() + opts.timeout_ms;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, opts.interval_ms));
  }
  throw new Error(`timed out after ${opts.timeout_ms} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}
