/** One thing the demo started, and how to undo it. */
interface Step {
  name: string;
  undo: () => Promise<void>;
}

/** The longest any one undo step may take before the next one runs anyway. */
const STEP_TIMEOUT_MS = 20_000;

/**
 * Everything the demo starts (clusters, services, the temporary directory) registers how to
 * undo it here, as soon as it exists. `close()` undoes it all in reverse order, once, however
 * the run ends: normally, by an error, or by Ctrl-C in the middle of any stage.
 */
export class Teardown {
  readonly #steps: Step[] = [];
  #closing: Promise<void> | undefined;

  constructor(private readonly report: (line: string) => void) {}

  add(name: string, undo: () => Promise<void>): void {
    this.#steps.push({ name, undo });
    // Started while closing (a stage that was already under way when Ctrl-C came): `close()`
    // must not resolve before this is undone too.
    if (this.#closing !== undefined) this.#closing = this.#closing.then(() => this.#run());
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Undoes every step, newest first; resolves once nothing is left, late additions included. */
  async close(): Promise<void> {
    this.#closing ??= this.#run();
    let awaited: Promise<void>;
    do {
      awaited = this.#closing;
      await awaited;
    } while (awaited !== this.#closing);
  }

  async #run(): Promise<void> {
    for (let step = this.#steps.pop(); step !== undefined; step = this.#steps.pop()) {
      await runStep(step, this.report);
    }
  }
}

async function runStep(step: Step, report: (line: string) => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), STEP_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([step.undo().then(() => 'done' as const), timeout]);
    if (outcome === 'timeout') report(`  ${step.name}: did not finish within ${STEP_TIMEOUT_MS / 1000} s, going on`);
  } catch (error) {
    report(`  ${step.name}: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}
