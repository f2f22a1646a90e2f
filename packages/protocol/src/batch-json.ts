import { SLICE_BYTES, yieldToLoop } from './loop-slices.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const EVENTS_KEY = Buffer.from('"events"', 'latin1');

/** Where a batch's top-level `events` array lies: its brackets and the commas between its elements. */
interface EventsArray {
  open: number;
  close: number;
  commas: number[];
}

/**
 * `JSON.parse` of a decrypted batch (UTF-8 JSON), with the event loop free every slice: the
 * batch without its events is parsed whole (it is small), the events a group of about
 * `sliceBytes` at a time (tests make it small); a text of up to four slices is parsed whole.
 * The result is exactly `JSON.parse(utf8)`, and so is the verdict: a text JSON.parse refuses
 * throws a SyntaxError here too. Why: a structural scan (strings and
 * escapes, brackets, commas) is exact on valid JSON; the text then is the shell (with `[]` for
 * the events) around the array, and an array is valid exactly when each group of its elements
 * is, so a text is valid exactly when the shell and every group parse (with the element count
 * the scan found). Anything the scan does not expect — not an object, no `events` array, two
 * `events` members, a top-level member name with an escape — is parsed whole, as before.
 */
export async function parseBatchJson(plaintext: Buffer, sliceBytes = SLICE_BYTES): Promise<unknown> {
  // A text of up to four slices (2 MiB) parses whole in a few milliseconds; the scan would only
  // add to it.
  const events = plaintext.length <= 4 * sliceBytes ? undefined : await findEventsArray(plaintext, sliceBytes);
  if (events === undefined) return JSON.parse(plaintext.toString('utf8'));
  // Every cut is at an ASCII byte (a bracket or a comma), never inside a UTF-8 sequence: the
  // pieces decode to exactly the text the whole would.
  const shell = JSON.parse(`${plaintext.toString('utf8', 0, events.open)}[]${plaintext.toString('utf8', events.close + 1)}`) as { events: unknown[] };
  const parsed: unknown[] = [];
  let start = events.open + 1;
  let expected = 1;
  const ends = [...events.commas, events.close];
  for (const [index, end] of ends.entries()) {
    if (end !== events.close && end - start < sliceBytes) {
      expected += 1;
      continue;
    }
    const group = JSON.parse(`[${plaintext.toString('utf8', start, end)}]`) as unknown[];
    // `[]` alone is an empty array; `[,]`-like gaps fail to parse or come out one short.
    const elements = index === 0 && events.commas.length === 0 && group.length === 0 ? 0 : expected;
    if (group.length !== elements) throw new SyntaxError(`the events array has an empty element near byte ${start}`);
    for (const element of group) parsed.push(element);
    start = end + 1;
    expected = 1;
    if (index < ends.length - 1) await yieldToLoop();
  }
  shell.events = parsed;
  return shell;
}

/**
 * Scans the JSON text for the top-level member `"events"` and its array, a slice at a time.
 * Undefined when the text is not shaped as a batch is (see parseBatchJson) or is not JSON.
 */
async function findEventsArray(bytes: Buffer, sliceBytes: number): Promise<EventsArray | undefined> {
  const scan = new EventsArrayScan(bytes);
  for (let until = sliceBytes; ; until += sliceBytes) {
    const verdict = scan.scanTo(Math.min(until, bytes.length));
    if (verdict === 'not-a-batch') return undefined;
    if (verdict !== 'more') return verdict;
    if (until >= bytes.length) return undefined;
    await yieldToLoop();
  }
}

/**
 * Where the top-level `events` array of a batch's JSON text opens (its `[`), the text before it
 * scanned as findEventsArray scans it; undefined when the text is not shaped as a batch there.
 * What follows is the caller's to read; `isBatchShell` then checks the text around the array.
 */
export function findEventsOpen(bytes: Buffer): number | undefined {
  const verdict = new EventsArrayScan(bytes, true).scanTo(bytes.length);
  return typeof verdict === 'object' ? verdict.open : undefined;
}

/** Whether `shell` (a batch's text with `[]` for its events) is shaped as a batch is: one `events` member, an array. */
export function isBatchShell(shell: Buffer): boolean {
  return typeof new EventsArrayScan(shell).scanTo(shell.length) === 'object';
}

/** The scanner's state between slices (a plain synchronous loop, which V8 optimizes). */
class EventsArrayScan {
  private at = 0;
  private depth = 0;
  /** At depth 1: the next string is a member name. */
  private memberName = false;
  /** The value of the member `events` comes next. */
  private eventsValue = false;
  private found: EventsArray | undefined;
  private inArray = false;

  constructor(
    private readonly bytes: Buffer,
    /** Stop at the events array's `[`. */
    private readonly stopAtOpen = false,
  ) {}

  scanTo(until: number): EventsArray | 'more' | 'not-a-batch' {
    const bytes = this.bytes;
    let at = this.at;
    for (; at < until; at += 1) {
      const byte = bytes[at]!;
      if (byte === QUOTE) {
        const end = closingQuote(bytes, at);
        if (end === -1) return 'not-a-batch';
        if (this.depth === 1 && this.memberName) {
          this.memberName = false;
          // A name spelled with an escape may be "events" too: parse such a text whole.
          if (bytes.subarray(at, end).includes(BACKSLASH)) return 'not-a-batch';
          if (end - at + 1 === EVENTS_KEY.length && bytes.compare(EVENTS_KEY, 0, EVENTS_KEY.length, at, end + 1) === 0) {
            if (this.found !== undefined || this.eventsValue) return 'not-a-batch';
            this.eventsValue = true;
          }
        } else if (this.depth === 1 && this.eventsValue) {
          return 'not-a-batch';
        }
        at = end;
        continue;
      }
      switch (byte) {
        case OPEN_BRACE:
        case OPEN_BRACKET:
          this.depth += 1;
          if (this.depth === 1) {
            if (byte !== OPEN_BRACE) return 'not-a-batch';
            this.memberName = true;
          } else if (this.depth === 2 && this.eventsValue) {
            if (byte !== OPEN_BRACKET) return 'not-a-batch';
            this.found = { open: at, close: -1, commas: [] };
            if (this.stopAtOpen) return this.found;
            this.inArray = true;
            this.eventsValue = false;
          }
          break;
        case CLOSE_BRACE:
        case CLOSE_BRACKET:
          if (this.depth === 2 && this.inArray) {
            this.found!.close = at;
            this.inArray = false;
          }
          this.depth -= 1;
          if (this.depth < 0) return 'not-a-batch';
          // What follows the object (only whitespace, in JSON) is checked by parsing the shell.
          if (this.depth === 0) return this.found === undefined || this.found.close === -1 ? 'not-a-batch' : this.found;
          break;
        case COMMA:
          if (this.depth === 1) this.memberName = true;
          else if (this.depth === 2 && this.inArray) this.found!.commas.push(at);
          break;
        default:
          // A member `events` whose value is not an array, or a top level that is not an object.
          if ((this.eventsValue && this.depth === 1 && byte !== COLON && !isWhitespace(byte)) || (this.depth === 0 && !isWhitespace(byte))) return 'not-a-batch';
      }
    }
    this.at = at;
    return 'more';
  }
}

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * The index of the quote that ends the string starting at `open`, or -1. Short strings (most
 * values) byte by byte; a long one with indexOf (native), counting the backslashes before each
 * quote found: an odd number escapes it.
 */
export function closingQuote(bytes: Buffer, open: number): number {
  const shortEnd = Math.min(bytes.length, open + 256);
  let at = open + 1;
  for (; at < shortEnd; at += 1) {
    const byte = bytes[at];
    if (byte === QUOTE) return at;
    if (byte === BACKSLASH) at += 1;
  }
  for (let quote = bytes.indexOf(QUOTE, at); quote !== -1; quote = bytes.indexOf(QUOTE, quote + 1)) {
    let backslashes = 0;
    while (quote - 1 - backslashes >= at && bytes[quote - 1 - backslashes] === BACKSLASH) backslashes += 1;
    // A run of backslashes that began before `at` is counted from `at` on: the byte loop left
    // `at` just past a complete escape, so the run starts at `at` or later.
    if (backslashes % 2 === 0) return quote;
  }
  return -1;
}
