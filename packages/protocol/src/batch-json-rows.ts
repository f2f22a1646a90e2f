import { isDeepStrictEqual } from 'node:util';
import { closingQuote, findEventsOpen, isBatchShell } from './batch-json.js';
import { RowEventScanner } from './row-event-scan.js';
import { SLICE_BYTES, yieldToLoop } from './loop-slices.js';
import type { Relation } from './relation.js';

const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;

/**
 * A batch's JSON text as `JSON.parse` makes it, but with its one-row events (INSERTs, UPDATEs
 * of an unchanged key, DELETEs) read by RowEventScanner: their rows stay JSON bytes
 * (json-row.ts) until something reads them, and a receiver writes them to COPY, or hands them to
 * the backup as one JSON document, from those bytes. One pass over the events; every event the
 * scanner does not take is parsed by `JSON.parse` (consecutive ones together), so the verdict
 * on a text is `JSON.parse`'s: a SyntaxError for what it refuses. Undefined for a text shaped
 * otherwise than the replicator writes a batch (the relations before the events, one `events`
 * and one `relations` member) or with relations `relationsOf` refuses: the caller then parses
 * it the general way, which names what is wrong. The event loop is free every slice.
 */
export async function parseWithJsonRows(bytes: Buffer, relationsOf: (shell: unknown) => readonly Relation[] | undefined): Promise<unknown> {
  const open = findEventsOpen(bytes);
  if (open === undefined) return undefined;
  // The text before the array, closed: `{...,"events":` + `[]}`.
  const head = bytes.toString('utf8', 0, open);
  const headShell = JSON.parse(`${head}[]}`) as { relations?: unknown };
  const relations = relationsOf(headShell);
  if (relations === undefined) return undefined;

  const scanner = new RowEventScanner(relations);
  const events: unknown[] = [];
  let unscanned = { start: 0, count: 0 };
  const parseUnscanned = (end: number): void => {
    if (unscanned.count === 0) return;
    const group = JSON.parse(`[${bytes.toString('utf8', unscanned.start, end)}]`) as unknown[];
    // An empty element (`,,`) fails to parse or comes out one short.
    if (group.length !== unscanned.count) throw new SyntaxError(`the events array has an empty element near byte ${unscanned.start}`);
    for (const event of group) events.push(event);
    unscanned.count = 0;
  };

  let at = skipWhitespace(bytes, open + 1);
  let close = -1;
  let sliceStart = at;
  if (bytes[at] === CLOSE_BRACKET) close = at;
  while (close < 0) {
    const start = at;
    const event = scanner.scan(bytes, start, bytes.length);
    if (event === undefined) {
      at = valueEnd(bytes, start);
      if (at < 0) return undefined;
      if (unscanned.count === 0) unscanned = { start, count: 0 };
      unscanned.count += 1;
    } else {
      parseUnscanned(start - 1);
      events.push(event);
      at = skipWhitespace(bytes, scanner.end);
    }
    if (bytes[at] === CLOSE_BRACKET) close = at;
    else if (bytes[at] !== COMMA) return undefined;
    else at += 1;
    // At the closing `]` the loop ends and parseUnscanned(close) below takes the rest; `at - 1`
    // is only the end of the last element after a comma.
    if (close < 0 && at - sliceStart >= SLICE_BYTES) {
      parseUnscanned(at - 1);
      sliceStart = at;
      await yieldToLoop();
    }
  }
  parseUnscanned(close);

  const shellText = Buffer.from(`${head}[]${bytes.toString('utf8', close + 1)}`, 'utf8');
  if (!isBatchShell(shellText)) return undefined;
  const shell = JSON.parse(shellText.toString('utf8')) as { events: unknown[]; relations?: unknown };
  // A second `relations` member after the events would win in JSON.parse: read such a text the general way.
  if (!isDeepStrictEqual(shell.relations, headShell.relations)) return undefined;
  shell.events = events;
  return shell;
}

/**
 * Where the JSON value starting at `at` ends: the comma or `]` after it at its own level, or -1
 * when the text ends first. Only the structure is followed (strings, brackets); JSON.parse
 * judges the value itself.
 */
function valueEnd(bytes: Buffer, at: number): number {
  let depth = 0;
  for (; at < bytes.length; at += 1) {
    const byte = bytes[at]!;
    if (byte === QUOTE) {
      at = closingQuote(bytes, at);
      if (at < 0) return -1;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      depth += 1;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      if (depth === 0) return byte === CLOSE_BRACKET ? at : -1;
      depth -= 1;
    } else if (byte === COMMA && depth === 0) {
      return at;
    }
  }
  return -1;
}

function skipWhitespace(bytes: Buffer, at: number): number {
  while (at < bytes.length && (bytes[at] === 0x20 || bytes[at] === 0x0a || bytes[at] === 0x0d || bytes[at] === 0x09)) at += 1;
  return at;
}
