import { z } from 'zod';
import { formatTypeSchema, identifierSchema } from './identifiers.js';

export const columnSchema = z.strictObject({
  name: identifierSchema,
  /** `format_type(atttypid, atttypmod)` on the source, for example `numeric(38,10)`. */
  type: formatTypeSchema,
  /** Whether the source column is NOT NULL (used when the receiver creates the table). */
  not_null: z.boolean(),
});
export type Column = z.infer<typeof columnSchema>;

/**
 * What the receiver needs to cast values and to create or check the backup table: the
 * columns in source order with their types, and the key the source identifies rows by.
 */
export const relationSchema = z
  .strictObject({
    schema: identifierSchema,
    table: identifierSchema,
    /** The table's REPLICA IDENTITY setting on the source. */
    replica_identity: z.enum(['default', 'index', 'full', 'nothing']),
    columns: z.array(columnSchema).min(1, 'a relation has at least one column'),
    /** Primary-key (or replica-identity index) columns in key order; empty when there is none. */
    key_columns: z.array(identifierSchema),
  })
  .superRefine((relation, ctx) => {
    const names = new Set<string>();
    for (const [index, column] of relation.columns.entries()) {
      if (names.has(column.name)) {
        ctx.addIssue({ code: 'custom', path: ['columns', index, 'name'], message: `duplicate column ${JSON.stringify(column.name)}` });
      }
      names.add(column.name);
    }
    for (const [index, key] of relation.key_columns.entries()) {
      if (!names.has(key)) {
        ctx.addIssue({ code: 'custom', path: ['key_columns', index], message: `key column ${JSON.stringify(key)} is not among the columns` });
      }
    }
  });
export type Relation = z.infer<typeof relationSchema>;

/** `schema.table` as a map key; unambiguous because identifiers contain no NUL. */
export function relationKey(schema: string, table: string): string {
  return `${schema}\0${table}`;
}
