import type { ChangeEvent, Row } from './change-event.js';

/**
 * An INSERT's row still as the payload's JSON bytes, `{"column":"value",...}`: already checked
 * (strict JSON, valid UTF-8, every member a column of the event's relation, each once, values
 * strings or null, no escape that decodes to a lone surrogate), not yet decoded. A receiver
 * writes COPY text straight from these bytes, with no object and no string per value; anything
 * else that needs the row decodes it with `decode()`, exactly `JSON.parse` of the bytes.
 */
export class JsonRow {
  constructor(
    /** The decrypted payload the row lies in (never written). */
    readonly bytes: Buffer,
    /** Where the row object starts (its `{`) and ends (just past its `}`). */
    readonly start: number,
    readonly end: number,
    /** The member names in the order they appear: one shared array per shape of row. */
    readonly columns: readonly string[],
  ) {}

  /** The row as an object: `JSON.parse` of its bytes. */
  decode(): Row {
    return JSON.parse(this.bytes.toString('utf8', this.start, this.end)) as Row;
  }
}

type InsertHead = Omit<ChangeEvent & { operation: 'INSERT' }, 'data' | 'operation' | 'old_data' | 'unchanged_toast'>;

/**
 * An INSERT event whose row stays JSON bytes until something reads `data` (decoded once, then
 * kept). A class, not an object literal with a getter: V8 gives every such literal a shape of
 * its own (measured ~1 µs per event). `data` lives on the prototype, so an own-property copy
 * (`{...event}`) would lose it: `toJSON` gives the plain event for JSON.stringify (staged chunks),
 * and the receiver never spreads an event.
 */
class JsonInsertEvent {
  readonly operation = 'INSERT' as const;
  readonly old_data = null;
  readonly unchanged_toast: string[] = [];
  readonly schema: string;
  readonly table: string;
  readonly timestamp: string;
  readonly lsn: string;
  readonly commit_lsn: string;
  readonly xid: number;
  readonly seq: number;
  // Private fields: not members of the event to Object.keys, zod or JSON.stringify.
  readonly #row: JsonRow;
  #decoded: Row | undefined;

  constructor(head: InsertHead, row: JsonRow) {
    this.schema = head.schema;
    this.table = head.table;
    this.timestamp = head.timestamp;
    this.lsn = head.lsn;
    this.commit_lsn = head.commit_lsn;
    this.xid = head.xid;
    this.seq = head.seq;
    this.#row = row;
  }

  get data(): Row {
    return (this.#decoded ??= this.#row.decode());
  }

  get row(): JsonRow {
    return this.#row;
  }

  toJSON(): ChangeEvent {
    const { schema, table, timestamp, lsn, commit_lsn, xid, seq, operation, data, old_data, unchanged_toast } = this;
    return { schema, table, timestamp, lsn, commit_lsn, xid, seq, operation, data, old_data, unchanged_toast };
  }
}

/** The INSERT event of `row`, its `data` decoded only when something reads it. */
export function insertEventWithJsonRow(head: InsertHead, row: JsonRow): ChangeEvent {
  return new JsonInsertEvent(head, row);
}

/** The event's row as JSON bytes, when it was read that way (an INSERT from a receiver's decoder). */
export function jsonRowOf(event: ChangeEvent): JsonRow | undefined {
  return event instanceof JsonInsertEvent ? event.row : undefined;
}

/** A row of a run: an object, or JSON bytes not decoded yet. */
export type RowSource = Row | JsonRow;

/** The row as an object (decoding JSON bytes). */
export function rowOf(row: RowSource): Row {
  return row instanceof JsonRow ? row.decode() : row;
}

/** The event as a plain object (its row decoded): what JSON.parse would have made of it. */
export function plainEvent(event: unknown): unknown {
  return event instanceof JsonInsertEvent ? event.toJSON() : event;
}
