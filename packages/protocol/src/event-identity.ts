import type { ChangeEvent, Row } from './change-event.js';
import type { Relation } from './relation.js';

/**
 * The columns a relation identifies its rows by on the source, as pgoutput sends them in an
 * UPDATE's or DELETE's old values: every column under REPLICA IDENTITY FULL, the key columns
 * under DEFAULT or USING INDEX, none under NOTHING (or DEFAULT without a primary key, where the
 * source refuses UPDATE and DELETE).
 */
export function identityColumns(relation: Relation): readonly string[] {
  return relation.replica_identity === 'full' ? relation.columns.map((column) => column.name) : relation.key_columns;
}

/**
 * Why an UPDATE or DELETE cannot locate the row it changes, or undefined when it can. A change
 * that names its row incompletely would match nothing (and answer "applied" having done
 * nothing) or, without a key, the wrong row: so it must carry exactly the identity its relation
 * declares, as the source sends it. Shared by the zod schema and the hot-path check, so the two
 * agree by construction.
 */
export function identityProblem(event: ChangeEvent, relation: Relation): string | undefined {
  if (event.operation !== 'UPDATE' && event.operation !== 'DELETE') return undefined;
  return identityProblemOfColumns(event.operation, relation, event.old_data === null ? null : Object.keys(event.old_data), event.operation === 'UPDATE' ? Object.keys(event.data) : null);
}

/**
 * identityProblem from the rows' column names alone (`oldColumns` null for no old row,
 * `newColumns` the UPDATE's new row), each name once: what an event whose row is still JSON
 * bytes (json-row.ts) is checked by, without decoding it.
 */
export function identityProblemOfColumns(operation: 'UPDATE' | 'DELETE', relation: Relation, oldColumns: readonly string[] | null, newColumns: readonly string[] | null): string | undefined {
  const identity = identityColumns(relation);
  if (identity.length === 0) return `an ${operation} needs a replica identity, and ${relation.schema}.${relation.table} declares none (replica_identity ${relation.replica_identity}, no key columns)`;
  if (oldColumns === null) {
    // An UPDATE sends its old values only when the key changed, or always under FULL.
    if (relation.replica_identity === 'full') return 'an UPDATE of a REPLICA IDENTITY FULL table carries the whole old row in old_data';
  } else {
    const problem = exactColumns(oldColumns, identity);
    if (problem !== undefined) return `old_data ${problem} (${relation.replica_identity === 'full' ? 'the whole old row' : 'the key columns'} of ${relation.schema}.${relation.table}: ${identity.join(', ')})`;
  }
  if (operation === 'UPDATE') {
    const missing = relation.key_columns.filter((column) => !newColumns?.includes(column));
    if (missing.length > 0) return `data lacks key column(s) ${missing.join(', ')}`;
  }
  return undefined;
}

function exactColumns(columns: readonly string[], wanted: readonly string[]): string | undefined {
  // A whole row (REPLICA IDENTITY FULL) may have hundreds of columns: no quadratic search.
  const present = wanted.length > 8 ? new Set(columns) : undefined;
  const missing = wanted.filter((column) => !(present?.has(column) ?? columns.includes(column)));
  if (missing.length > 0) return `lacks ${missing.join(', ')}`;
  const extra = columns.length - wanted.length;
  return extra > 0 ? 'holds columns outside the replica identity' : undefined;
}

/** A row's value for `column`: its own property only (never `constructor` from Object.prototype). */
export function cellOf(row: Row, column: string): string | null | undefined {
  return Object.hasOwn(row, column) ? row[column] : undefined;
}
