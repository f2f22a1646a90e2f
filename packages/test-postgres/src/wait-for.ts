import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitForOptions {
  /** What is awaited, for the timeout message (a function to describe the last state seen). */
  description: string | (() => string);
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Polls `probe` until it returns something other than `undefined`/`false`, and returns
 * that. Errors thrown by the probe count as "not yet"; the last one is reported on
 * timeout. Tests wait for conditions this way instead of sleeping a guessed time.
 */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  { description, timeoutMs = 10_000, intervalMs = 20 }: WaitForOptions,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const result = await probe();
      if (result !== undefined && result !== false) return result;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${typeof description === 'function' ? description() : description}${reason}`, {
        cause: lastError,
      });
    }
    await sleep(intervalMs);
  }
}
