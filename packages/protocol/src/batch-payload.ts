import type { Batch } from './batch.js';
import type { ChangeEvent } from './change-event.js';

/**
 * A batch's events as JSON text, already written (by the replicator, straight from the pgoutput
 * bytes): the elements of the `events` array in order, each followed by a comma, in one or
 * more pieces that are simply concatenated.
 */
export interface EventsJson {
  readonly pieces: readonly Uint8Array[];
  /** How many events the pieces hold. */
  readonly count: number;
  /** Total length of the pieces, in bytes. */
  readonly byteLength: number;
}

/** Everything of a batch but its events. */
export type BatchHeader = Omit<Batch, 'events'>;

/** A batch already encoded: its header, how many events it holds, and its payload bytes. */
export interface EncodedBatch {
  header: BatchHeader;
  eventCount: number;
  payload: Uint8Array;
}

const CLOSE_BRACE = 0x7d;
const COMMA = 0x2c;

/**
 * The payload of a batch whose events are already JSON: byte for byte what `encodeBatch` makes
 * of the same batch with its members in the order the schema lists them (version, source_id,
 * slot, commit_lsn, chunk, follows, acknowledges, origin, relations, events, snapshot). The header is small and goes
 * through JSON.stringify; the events are copied once, into the payload.
 */
export function encodeBatchPayload(header: BatchHeader, events: EventsJson): Buffer {
  const { version, source_id, slot, commit_lsn, chunk, follows, acknowledges, origin, relations, snapshot } = header;
  const head = JSON.stringify({ version, source_id, slot, commit_lsn, chunk, ...(follows !== undefined ? { follows } : {}), ...(acknowledges !== undefined ? { acknowledges } : {}), ...(origin !== undefined ? { origin } : {}), relations });
  // `{...,"relations":[...]}` opened again: `{...,"relations":[...],"events":[`
  const before = `${head.slice(0, -1)},"events":[`;
  const after = snapshot === undefined ? ']}' : `],"snapshot":${JSON.stringify(snapshot)}}`;
  const beforeBytes = Buffer.byteLength(before, 'utf8');
  // The last event's comma is left out.
  const eventBytes = Math.max(0, events.byteLength - 1);
  const payload = Buffer.allocUnsafeSlow(beforeBytes + eventBytes + Buffer.byteLength(after, 'utf8'));
  let at = payload.write(before, 0, 'utf8');
  let left = eventBytes;
  for (const piece of events.pieces) {
    const count = Math.min(piece.length, left);
    payload.set(count === piece.length ? piece : piece.subarray(0, count), at);
    at += count;
    left -= count;
  }
  if (events.byteLength > 0 && lastByte(events) !== COMMA) throw new Error('events JSON must end each event with a comma');
  at += payload.write(after, at, 'utf8');
  if (at !== payload.length || payload[at - 1] !== CLOSE_BRACE) throw new Error('batch payload length mismatch');
  return payload;
}

function lastByte(events: EventsJson): number | undefined {
  for (let index = events.pieces.length - 1; index >= 0; index -= 1) {
    const piece = events.pieces[index]!;
    if (piece.length > 0) return piece[piece.length - 1];
  }
  return undefined;
}

/** The events as objects again (`JSON.parse`): for the seed format's one request per event, and for tests. */
export function parseEventsJson(events: EventsJson): ChangeEvent[] {
  if (events.count === 0) return [];
  const text = Buffer.concat(events.pieces).toString('utf8', 0, events.byteLength - 1);
  return JSON.parse(`[${text}]`) as ChangeEvent[];
}
