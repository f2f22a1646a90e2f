const BAR_WIDTH = 28;
/** Without a terminal (CI, a pipe), one plain line this often instead of a redrawn bar. */
const PLAIN_INTERVAL_MS = 2_000;

/**
 * A status line on stderr: redrawn in place with \r on a terminal, printed as plain lines every
 * few seconds otherwise, so that logs stay readable.
 */
export class ProgressLine {
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  #lastPlain = 0;
  #shown = false;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream;
    this.#tty = stream.isTTY === true;
  }

  update(text: string): void {
    if (this.#tty) {
      this.#stream.write(`\r${fit(text, this.#stream.columns)}\x1b[K`);
      this.#shown = true;
    } else if (Date.now() - this.#lastPlain >= PLAIN_INTERVAL_MS) {
      this.#lastPlain = Date.now();
      this.#stream.write(`${text}\n`);
    }
  }

  /** Leaves `text` as the line's last state. */
  finish(text: string): void {
    this.#stream.write(this.#tty ? `\r${fit(text, this.#stream.columns)}\x1b[K\n` : `${text}\n`);
    this.#shown = false;
    this.#lastPlain = 0;
  }

  /** Removes a half-drawn line (before an error or Ctrl-C message). */
  clear(): void {
    if (this.#tty && this.#shown) this.#stream.write('\r\x1b[K');
    this.#shown = false;
  }
}

export function bar(fraction: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
}

function fit(text: string, columns: number | undefined): string {
  return columns !== undefined && columns > 1 && text.length >= columns ? text.slice(0, columns - 1) : text;
}
