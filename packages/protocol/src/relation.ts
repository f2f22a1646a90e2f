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

/** An enum label: 1-63 bytes (NAMEDATALEN - 1), no NUL. */
const enumLabelSchema = z
  .string()
  .min(1, 'must not be empty')
  .refine((label) => Buffer.byteLength(label, 'utf8') <= 63, { message: 'must be at most 63 bytes (PostgreSQL\'s label limit)' })
  .refine((label) => !label.includes('\0'), { message: 'must not contain a NUL byte' });

/**
 * A user-defined enum that a column uses (directly or as an array's element), with what the
 * receiver needs to create it: its labels in sort order.
 */
export const enumTypeSchema = z
  .strictObject({
    /** The enum's `format_type` as it appears in the columns' types, for example `"satellite/0".object_status`. */
    type: formatTypeSchema,
    /** Its schema and name on the source. */
    schema: identifierSchema,
    name: identifierSchema,
    /** Labels in the enum's sort order (`pg_enum.enumsortorder`). */
    labels: z.array(enumLabelSchema),
  })
  .superRefine((enumType, ctx) => {
    const seen = new Set<string>();
    for (const [index, label] of enumType.labels.entries()) {
      if (seen.has(label)) ctx.addIssue({ code: 'custom', path: ['labels', index], message: `duplicate label ${JSON.stringify(label)}` });
      seen.add(label);
    }
  });
export type EnumType = z.infer<typeof enumTypeSchema>;

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
    /** The enums the columns use, when any (absent otherwise): the receiver may create them. */
    enum_types: z.array(enumTypeSchema).optional(),
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
