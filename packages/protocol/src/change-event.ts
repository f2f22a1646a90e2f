import { z } from 'zod';
import { identifierSchema, LONE_SURROGATE, lsnTextSchema } from './identifiers.js';

/**
 * A row as PostgreSQL's exact text output for each column (`NULL` as `null`).
 * Values are never parsed into JS numbers or dates: numeric precision, microseconds,
 * bytea (`\x…` hex), `json` vs `jsonb` and JSON `null` vs SQL NULL all survive.
 */
export const rowSchema = z.preprocess(
  // JSON.parse keeps a "__proto__" member as an own property, but a record built from it would
  // set the prototype instead and silently drop the member: refuse it while it is still visible.
  (row, ctx) => {
    if (typeof row === 'object' && row !== null && Object.hasOwn(row, '__proto__')) ctx.addIssue({ code: 'custom', path: ['__proto__'], message: 'must not be "__proto__" (not a column name)', input: row });
    return row;
  },
  z.record(identifierSchema, z.string().refine((value) => !LONE_SURROGATE.test(value), 'holds a lone UTF-16 surrogate (an escape such as \\ud800 without its pair), which no UTF-8 text can hold').nullable()),
);
export type Row = z.infer<typeof rowSchema>;

const commonFields = {
  /** Source schema, for example `satellite/0`. */
  schema: identifierSchema,
  /** Source table, for example `objects`. */
  table: identifierSchema,
  /** Commit time of the change's transaction, ISO 8601 UTC with microseconds. */
  timestamp: z.string().min(1),
  /** WAL position of this change. */
  lsn: lsnTextSchema,
  /** WAL position of its transaction's commit record; the receiver's watermark unit. */
  commit_lsn: lsnTextSchema,
  /** Source transaction id. */
  xid: z.number().int().nonnegative(),
  /**
   * Position of this change within its transaction (0, 1, 2, ...), counting every change the
   * source decoded, including those of tables not replicated. Unique within the transaction even
   * where `lsn` is not (a COPY writes many rows in one WAL record): the receiver's per-event
   * watermark relies on it.
   */
  seq: z.number().int().nonnegative(),
};

const insertEvent = z.strictObject({
  operation: z.literal('INSERT'),
  ...commonFields,
  data: rowSchema,
  old_data: z.null(),
  unchanged_toast: z.array(identifierSchema).max(0, 'must be empty for INSERT'),
});

const updateEvent = z
  .strictObject({
    operation: z.literal('UPDATE'),
    ...commonFields,
    /** New values of every column that was sent; unchanged-TOAST columns are absent. */
    data: rowSchema,
    /** Old key (a key column changed) or the whole old row (REPLICA IDENTITY FULL); else null. */
    old_data: rowSchema.nullable(),
    /** Columns whose (large, out-of-line) value did not change and was not sent: leave them as they are. */
    unchanged_toast: z.array(identifierSchema),
  })
  .superRefine((event, ctx) => {
    for (const [index, column] of event.unchanged_toast.entries()) {
      if (Object.hasOwn(event.data, column)) {
        ctx.addIssue({
          code: 'custom',
          path: ['unchanged_toast', index],
          message: `column ${JSON.stringify(column)} is listed as unchanged but also has a value in data`,
        });
      }
    }
  });

const deleteEvent = z.strictObject({
  operation: z.literal('DELETE'),
  ...commonFields,
  data: z.null(),
  /** The replica identity of the deleted row: its key columns, or every column under REPLICA IDENTITY FULL. */
  old_data: rowSchema,
  unchanged_toast: z.array(identifierSchema).max(0, 'must be empty for DELETE'),
});

const truncateEvent = z.strictObject({
  operation: z.literal('TRUNCATE'),
  ...commonFields,
  data: z.null(),
  old_data: z.null(),
  unchanged_toast: z.array(identifierSchema).max(0, 'must be empty for TRUNCATE'),
});

/**
 * One row change. Keeps the seed's fields (`operation`, `table`, `timestamp`, `data`,
 * `old_data`) and adds what exactly-once, byte-exact apply needs.
 */
export const changeEventSchema = z.discriminatedUnion('operation', [insertEvent, updateEvent, deleteEvent, truncateEvent]);
export type ChangeEvent = z.infer<typeof changeEventSchema>;
export type Operation = ChangeEvent['operation'];
export const OPERATIONS = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'] as const satisfies readonly Operation[];

/**
 * The seed document's `ObjectChangeEvent` as a third-party sender written from it sends
 * it: only `operation`, `table`, `data` and `old_data` are required; our additions are
 * optional. Unknown fields are dropped.
 */
export const seedChangeEventSchema = z.object({
  operation: z.enum(OPERATIONS),
  table: identifierSchema,
  timestamp: z.string().optional(),
  data: rowSchema.nullable().optional(),
  old_data: rowSchema.nullable().optional(),
  schema: identifierSchema.optional(),
  lsn: lsnTextSchema.optional(),
  commit_lsn: lsnTextSchema.optional(),
  xid: z.number().int().nonnegative().optional(),
  seq: z.number().int().nonnegative().optional(),
  unchanged_toast: z.array(identifierSchema).optional(),
});
export type SeedChangeEvent = z.infer<typeof seedChangeEventSchema>;
