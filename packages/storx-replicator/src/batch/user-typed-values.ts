/**
 * Oids below this are PostgreSQL's own (FirstNormalObjectId): an enum, or an array of one, is
 * always a user-defined type at or above it.
 */
export const FIRST_USER_OID = 16384;

/** Distinct values kept per column; past this a column's values are "many" (the check then looks the labels up again). */
const MAX_DISTINCT = 1024;
/** A longer value is not kept (an enum label has at most 63 bytes; an array of them may be longer). */
const MAX_VALUE_BYTES = 4096;

/** Stands for a column whose values were too many or too long to keep. */
export const MANY_VALUES = 'many';

type ColumnValues = Set<string> | typeof MANY_VALUES;

/**
 * The distinct values a batch holds in each column of a user-defined type, per relation id: what
 * the enum label check (deliver/enum-values.ts) needs, collected while the changes are written,
 * so that nothing has to read the events again. Only columns of user-defined types are recorded
 * (the caller asks `FIRST_USER_OID`): most tables have none, and cost nothing here.
 */
export class UserTypedValues {
  private readonly byRelation = new Map<number, (ColumnValues | undefined)[]>();

  get isEmpty(): boolean {
    return this.byRelation.size === 0;
  }

  /** Records `text` for column `column` (by position) of relation `relationId`. */
  record(relationId: number, column: number, text: string): void {
    const values = this.columnsOf(relationId);
    const known = values[column];
    if (known === MANY_VALUES) return;
    if (text.length > MAX_VALUE_BYTES) {
      values[column] = MANY_VALUES;
      return;
    }
    if (known === undefined) values[column] = new Set([text]);
    else if (known.size < MAX_DISTINCT || known.has(text)) known.add(text);
    else values[column] = MANY_VALUES;
  }

  /** `record` of `bytes[start, end)` (UTF-8), without decoding a value that would not be kept. */
  recordBytes(relationId: number, column: number, bytes: Buffer, start: number, end: number): void {
    const known = this.byRelation.get(relationId)?.[column];
    if (known === MANY_VALUES) return;
    if (end - start > MAX_VALUE_BYTES) this.columnsOf(relationId)[column] = MANY_VALUES;
    else this.record(relationId, column, bytes.toString('utf8', start, end));
  }

  /** The values seen in a column: a set, `MANY_VALUES`, or undefined when there were none. */
  valuesOf(relationId: number, column: number): ReadonlySet<string> | typeof MANY_VALUES | undefined {
    return this.byRelation.get(relationId)?.[column];
  }

  /** Adds what `other` recorded. */
  merge(other: UserTypedValues): void {
    for (const [relationId, columns] of other.byRelation) {
      columns.forEach((values, column) => {
        if (values === MANY_VALUES) this.columnsOf(relationId)[column] = MANY_VALUES;
        else if (values !== undefined) for (const text of values) this.record(relationId, column, text);
      });
    }
  }

  private columnsOf(relationId: number): (ColumnValues | undefined)[] {
    let columns = this.byRelation.get(relationId);
    if (columns === undefined) {
      columns = [];
      this.byRelation.set(relationId, columns);
    }
    return columns;
  }
}
