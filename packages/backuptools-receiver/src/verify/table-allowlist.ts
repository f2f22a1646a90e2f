import { type Batch, type Relation, relationKey } from '@storx-backup/protocol';
import { ReceiverError } from '../errors.js';

/** A table the receiver may write, by its source schema and name (exactly as the sender names them). */
export interface AllowedTable {
  schema: string;
  table: string;
}

/**
 * The schema-qualified tables a signed sender may write, checked before any DDL or apply.
 * Names match exactly, code point for code point: a look-alike (`satellite∕0` with U+2215, a
 * zero-width space, a right-to-left override) is another name and is refused, as is every
 * schema the configuration does not name (the receiver's own state schema, `postgres`,
 * `$user`). A batch describes each table at most once and only tables its events (or its
 * table copy) touch: a relation without events would only create an empty table.
 */
export class TableAllowlist {
  private readonly allowed: ReadonlyMap<string, ReadonlySet<string>>;

  constructor(readonly entries: readonly AllowedTable[]) {
    const bySchema = new Map<string, Set<string>>();
    for (const { schema, table } of entries) {
      let tables = bySchema.get(schema);
      if (tables === undefined) bySchema.set(schema, (tables = new Set()));
      tables.add(table);
    }
    this.allowed = bySchema;
  }

  isAllowed(schema: string, table: string): boolean {
    return this.allowed.get(schema)?.has(table) ?? false;
  }

  /** Refuses (422 TABLE_NOT_ALLOWED) a table outside the allowlist. */
  check(schema: string, table: string): void {
    if (!this.isAllowed(schema, table)) {
      throw new ReceiverError(
        'TABLE_NOT_ALLOWED',
        `table ${printable(schema)}.${printable(table)} is not in this receiver's tables allowlist (${this.entries.map((entry) => `${entry.schema}.${entry.table}`).join(', ')}); names must match exactly, schema included`,
      );
    }
  }

  /**
   * Checks every relation and every event's table, and returns the relations the batch needs:
   * those its events touch, plus the table a copy chunk fills (an empty table is copied too).
   * A second description of one table is refused (PAYLOAD_INVALID): the sender starts a new
   * batch when a table's description changes.
   */
  relationsToApply(batch: Batch): Relation[] {
    const described = new Map<string, Relation>();
    for (const relation of batch.relations) {
      this.check(relation.schema, relation.table);
      const key = relationKey(relation.schema, relation.table);
      if (described.has(key)) throw new ReceiverError('PAYLOAD_INVALID', `relations describe ${printable(relation.schema)}.${printable(relation.table)} more than once`);
      described.set(key, relation);
    }
    const used = new Set<string>();
    let previous: { schema: string; table: string } | undefined;
    for (const event of batch.events) {
      // Events of one table come in runs: compare with the previous before building a key.
      if (previous !== undefined && previous.schema === event.schema && previous.table === event.table) continue;
      previous = event;
      this.check(event.schema, event.table);
      used.add(relationKey(event.schema, event.table));
    }
    if (batch.snapshot) {
      this.check(batch.snapshot.schema, batch.snapshot.table);
      used.add(relationKey(batch.snapshot.schema, batch.snapshot.table));
    }
    return [...described.entries()].filter(([key]) => used.has(key)).map(([, relation]) => relation);
  }
}

/** A name as JSON, so that invisible and look-alike characters show as escapes in messages and logs. */
function printable(name: string): string {
  return JSON.stringify(name).replace(/[\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
