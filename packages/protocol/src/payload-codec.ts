import type { z } from 'zod';
import { type Batch, batchSchema } from './batch.js';
import { type ChangeEvent, type SeedChangeEvent, changeEventSchema, seedChangeEventSchema } from './change-event.js';
import { type PayloadIssue, ProtocolError } from './errors.js';
import { isUtf8 } from 'node:buffer';
import { parseBatchJson } from './batch-json.js';
import { parseWithJsonRows } from './batch-json-rows.js';
import { plainEvent } from './json-row.js';
import { eventCheck, eventsPassFastCheck } from './fast-event-check.js';
import { yieldToLoop } from './loop-slices.js';

/** Serializes a batch as UTF-8 JSON (values are already strings: no BigInt or Date can reach here). */
export function encodeBatch(batch: Batch): Buffer {
  return Buffer.from(JSON.stringify(batch), 'utf8');
}

/** Parses and validates a decrypted v2 payload. Throws PAYLOAD_NOT_JSON or PAYLOAD_INVALID naming each bad field. */
export function decodeBatch(plaintext: Uint8Array): Batch {
  const value = parseJson(plaintext);
  return fastDecodeBatch(value) ?? validate(batchSchema, value, 'batch');
}

/**
 * `decodeBatch` with the event loop free every slice (a receiver's path): the JSON is parsed
 * and the events are checked a slice at a time (batch-json.ts, loop-slices.ts). Same result,
 * same errors. Only a batch the fast check refuses is judged by zod in one go (to name what is
 * wrong): a sender's bug, not the hot path.
 */
export async function decodeBatchInSlices(plaintext: Uint8Array): Promise<Batch> {
  const bytes = Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
  // JSON is UTF-8 (RFC 8259); decoding bytes that are not would replace them, silently.
  if (!isUtf8(bytes)) throw new ProtocolError('PAYLOAD_NOT_JSON', 'decrypted payload is not valid UTF-8, so not JSON');
  let value: unknown;
  try {
    value = (await parseWithJsonRows(bytes, (shell) => batchShell(shell)?.batch.relations)) ?? (await parseBatchJson(bytes));
  } catch (cause) {
    throw notJson(cause);
  }
  const shell = batchShell(value);
  if (shell !== undefined) {
    const passes = eventCheck(shell.batch);
    let allPass = true;
    for (let start = 0; allPass && start < shell.events.length; start += EVENTS_PER_SLICE) {
      if (start > 0) await yieldToLoop();
      for (let index = start; index < Math.min(shell.events.length, start + EVENTS_PER_SLICE); index += 1) {
        if (!passes(shell.events[index])) {
          allPass = false;
          break;
        }
      }
    }
    if (allPass) return { ...shell.batch, events: shell.events as ChangeEvent[] };
  }
  // zod judges (and names the faults of) what JSON.parse would have made.
  if (typeof value === 'object' && value !== null && Array.isArray((value as { events?: unknown }).events)) value = { ...value, events: (value as { events: unknown[] }).events.map(plainEvent) };
  return validate(batchSchema, value, 'batch');
}

/** Events checked between two yields: the fast check takes ~1 µs per event on a slow core. */
const EVENTS_PER_SLICE = 5_000;

/**
 * zod for everything but the events, the hand-written check for the events; undefined when
 * either says no (then zod judges the whole batch and names what is wrong).
 */
function fastDecodeBatch(value: unknown): Batch | undefined {
  const shell = batchShell(value);
  if (shell === undefined || !eventsPassFastCheck(shell.events, shell.batch)) return undefined;
  return { ...shell.batch, events: shell.events as ChangeEvent[] };
}

/** The batch but its events, validated by zod, and its events unchecked; undefined when zod says no. */
function batchShell(value: unknown): { batch: Omit<Batch, 'events'>; events: unknown[] } | undefined {
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { events?: unknown }).events)) return undefined;
  const events = (value as { events: unknown[] }).events;
  const shell = batchSchema.safeParse({ ...value, events: [] });
  return shell.success ? { batch: shell.data, events } : undefined;
}

/** Serializes one event for the seed-compatible format (one event per message). */
export function encodeSeedEvent(event: ChangeEvent): Buffer {
  return Buffer.from(JSON.stringify(event), 'utf8');
}

/** Parses one seed-format event: our full event, or the seed's minimal `ObjectChangeEvent`. */
export function decodeSeedEvent(plaintext: Uint8Array): ChangeEvent | SeedChangeEvent {
  const value = parseJson(plaintext);
  const full = changeEventSchema.safeParse(value);
  return full.success ? full.data : validate(seedChangeEventSchema, value, 'event');
}

function parseJson(plaintext: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength).toString('utf8'));
  } catch (cause) {
    throw notJson(cause);
  }
}

function notJson(cause: unknown): ProtocolError {
  return new ProtocolError('PAYLOAD_NOT_JSON', 'decrypted payload is not valid JSON', { cause });
}

function validate<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map(toPayloadIssue);
  const shown = issues.slice(0, 5).map((issue) => `${issue.path}: ${issue.message}`);
  const more = issues.length > shown.length ? ` (and ${issues.length - shown.length} more)` : '';
  throw new ProtocolError('PAYLOAD_INVALID', `invalid ${what}: ${shown.join('; ')}${more}`, { issues });
}

/** `['events', 3, 'data', 'size']` → `events[3].data.size`. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text === '' ? String(part) : `.${String(part)}`;
  }
  return text === '' ? '(root)' : text;
}

function toPayloadIssue(issue: z.core.$ZodIssue): PayloadIssue {
  return { path: formatIssuePath(issue.path), message: issue.message };
}
