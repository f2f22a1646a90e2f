import type { ChangeEvent, Row } from './change-event.js';

/**
 * An event's row still as the payload's JSON bytes, `{"column":"value",...}`: already checked
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

type EventHead = Pick<ChangeEvent, 'schema' | 'table' | 'timestamp' | 'lsn' | 'commit_lsn' | 'xid' | 'seq'>;

/**
 * The operations whose one row can stay JSON bytes: an INSERT's new row, an UPDATE's new row
 * when it sends no old row and no unchanged-TOAST column (the key did not change), a DELETE's
 * old row (its key, or the whole row under REPLICA IDENTITY FULL).
 */
export type JsonRowOperation = 'INSERT' | 'UPDATE' | 'DELETE';

/**
 * An event whose row stays JSON bytes until something reads `data` (or a DELETE's `old_data`;
 * decoded once, then kept). A class, not an object literal with a getter: V8 gives every such
 * literal a shape of its own (measured ~1 µs per event). The rows live on the prototype, so an
 * own-property copy (`{...event}`) would lose them: `toJSON` gives the plain event for
 * JSON.stringify (staged chunks), and the receiver never spreads an event.
 */
class JsonRowEvent {
  readonly unchanged_toast: string[] = [];
  readonly operation: JsonRowOperation;
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

  constructor(operation: JsonRowOperation, head: EventHead, row: JsonRow) {
    this.operation = operation;
    this.schema = head.schema;
    this.table = head.table;
    this.timestamp = head.timestamp;
    this.lsn = head.lsn;
    this.commit_lsn = head.commit_lsn;
    this.xid = head.xid;
    this.seq = head.seq;
    this.#row = row;
  }

  get data(): Row | null {
    return this.operation === 'DELETE' ? null : this.#decode();
  }

  get old_data(): Row | null {
    return this.operation === 'DELETE' ? this.#decode() : null;
  }

  get row(): JsonRow {
    return this.#row;
  }

  #decode(): Row {
    return (this.#decoded ??= this.#row.decode());
  }

  toJSON(): ChangeEvent {
    const { schema, table, timestamp, lsn, commit_lsn, xid, seq, operation, data, old_data, unchanged_toast } = this;
    return { schema, table, timestamp, lsn, commit_lsn, xid, seq, operation, data, old_data, unchanged_toast } as ChangeEvent;
  }
}

/** The event of `row` (a DELETE's old row, else the new row), decoded only when something reads it. */
export function eventWithJsonRow(operation: JsonRowOperation, head: EventHead, row: JsonRow): ChangeEvent {
  return new JsonRowEvent(operation, head, row) as unknown as ChangeEvent;
}

/** The event's one row as JSON bytes (a DELETE's old row, else its new row), when it was read that way (by a receiver's decoder). */
export function jsonRowOf(event: ChangeEvent): JsonRow | undefined {
  return event instanceof JsonRowEvent ? event.row : undefined;
}

/** A row of a run: an object, or JSON bytes not decoded yet. */
export type RowSource = Row | JsonRow;

/** The row as an object (decoding JSON bytes). */
export function rowOf(row: RowSource): Row {
  return row instanceof JsonRow ? row.decode() : row;
}

/** The event as a plain object (its row decoded): what JSON.parse would have made of it. */
export function plainEvent(event: unknown): unknown {
  return event instanceof JsonRowEvent ? event.toJSON() : event;
}
