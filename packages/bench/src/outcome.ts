import type { Failed, Outcome } from './results.js';

/** Runs one side's measurement; a failure becomes a `failed` outcome (logged), never an exception. */
export async function attempt<T>(what: string, log: (line: string) => void, measure: () => Promise<T>, cleanup: () => Promise<unknown>): Promise<Outcome<T>> {
  try {
    return await measure();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`  ${what} FAILED: ${message}`);
    await cleanup().catch((cleanupError: unknown) => log(`  cleanup after ${what} failed: ${String(cleanupError)}`));
    return { status: 'failed', error: message } satisfies Failed;
  }
}
