import { z } from 'zod';
import { changeEventSchema } from './change-event.js';
import { identityProblem } from './event-identity.js';
import { lsnTextSchema } from './identifiers.js';
import { isLsnText, parseLsn } from './lsn.js';
import { type Relation, relationKey, relationSchema } from './relation.js';
import { sourceOriginSchema } from './source-origin.js';

/** Payload version carried in every v2 batch. */
export const BATCH_VERSION = 2;

/**
 * The unit of delivery: one or more whole source transactions in commit order, or one
 * ordered chunk of a transaction too large for one request.
 *
 * The receiver applies a batch in one database transaction together with its watermark
 * `(source_id, slot) → (commit_lsn, chunk.index, chunk.last)` and ignores any batch at or
 * below that watermark. A batch with no events is a ping: checked like any other, applied
 * never, and it does not move the watermark.
 */
export const batchSchema = z
  .strictObject({
    version: z.literal(BATCH_VERSION),
    /** Names the source database; one watermark per (source_id, slot). */
    source_id: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1-128 characters of A-Z a-z 0-9 _ . : -'),
    /** The source's logical replication slot. */
    slot: z.string().regex(/^[a-z0-9_]{1,63}$/, 'must be a replication slot name (1-63 of a-z 0-9 _)'),
    /** Commit LSN of the last transaction in this batch (of the split transaction, for a chunk). */
    commit_lsn: lsnTextSchema,
    chunk: z
      .strictObject({
        /** 0 for a whole-transaction batch or a split transaction's first chunk. */
        index: z.number().int().nonnegative(),
        /** True when this batch ends its last transaction; false on all chunks but the last. */
        last: z.boolean(),
        /**
         * On a chunk after the first: the `seq` of the last change of the chunk before it, as
         * this sender split the transaction. The receiver judges continuity by it (changes up to
         * `after_seq` must already be applied), not by `index`, which changes when a restarted
         * sender splits the same transaction differently. Absent from older senders.
         */
        after_seq: z.number().int().nonnegative().optional(),
      })
      .refine((chunk) => chunk.after_seq === undefined || chunk.index > 0, { path: ['after_seq'], message: 'only on a chunk after the first (index > 0)' }),
    /**
     * The batch the sender sent before this one on the same stream (its `commit_lsn` and
     * `chunk`), when it sends several at once: the receiver applies this batch only once its
     * watermark has reached that one, and until then holds it (verified and decrypted) for a
     * bounded time instead of refusing it. Absent on the first batch of a sender's session and
     * from senders that send one at a time (docs/protocol.md, "Several batches in flight"). On a
     * table copy chunk (to a receiver that says `copy_follows`) it names the chunk before it of
     * the same copy: `{ commit_lsn: image_lsn, chunk_index: index - 1, chunk_last: false }`.
     */
    follows: z.strictObject({ commit_lsn: lsnTextSchema, chunk_index: z.number().int().nonnegative(), chunk_last: z.boolean() }).optional(),
    /**
     * `"durable"`: the sender acknowledges its slot only up to what the receiver's answers report
     * `durable`, never on a 2xx alone; only such a batch may the receiver commit asynchronously.
     * Sent only to a receiver whose ping answer says `"durable": true`. Absent (senders that
     * predate it, seed-v1): the receiver commits the batch synchronously, so that its 2xx means
     * on disk, which is what such a sender takes it for (docs/protocol.md, "Durable position").
     */
    acknowledges: z.literal('durable').optional(),
    /**
     * The PostgreSQL system and timeline the batch was read from. The receiver records it with
     * its watermark and refuses a batch from another system or from a timeline that forked
     * before what it has applied (see `judgeLineage`). Optional only for pings and senders that
     * predate it; once a receiver has recorded an origin, a batch without one is refused.
     */
    origin: sourceOriginSchema.optional(),
    /** Metadata for every relation the events touch. */
    relations: z.array(relationSchema),
    events: z.array(changeEventSchema),
    /**
     * Present on a chunk of a table copy (initial snapshot, `snapshot`, `resync`): the events are
     * the table's rows as of `image_lsn`, the consistent point of the exported snapshot they were
     * read in. Chunk 0 empties the backup table; stream changes that committed before
     * `image_lsn` are already in the copy and are skipped for that table.
     */
    snapshot: z
      .strictObject({
        schema: z.string(),
        table: z.string(),
        image_lsn: lsnTextSchema,
        index: z.number().int().nonnegative(),
        last: z.boolean(),
      })
      .optional(),
  })
  .superRefine((batch, ctx) => {
    const relations = new Map<string, Set<string>>();
    const described = new Map<string, Relation>();
    for (const relation of batch.relations) {
      relations.set(relationKey(relation.schema, relation.table), new Set(relation.columns.map((column) => column.name)));
      described.set(relationKey(relation.schema, relation.table), relation);
    }
    // Zod runs this refinement even when fields inside already failed, so parse defensively.
    const batchCommit = isLsnText(batch.commit_lsn) ? parseLsn(batch.commit_lsn) : undefined;
    const follows = batch.follows;
    if (follows !== undefined && batchCommit !== undefined && isLsnText(follows.commit_lsn) && batch.snapshot === undefined) {
      const before = parseLsn(follows.commit_lsn);
      // The batch it follows comes before it: an earlier transaction, or an earlier chunk of its own.
      if (before > batchCommit || (before === batchCommit && (follows.chunk_last || batch.chunk.index === 0))) {
        ctx.addIssue({ code: 'custom', path: ['follows'], message: 'must name a batch before this one (an earlier commit_lsn, or an earlier chunk of the same transaction)' });
      }
    }
    // On a table copy chunk, `follows` names the chunk before it of the same copy (several in flight).
    const snapshot = batch.snapshot;
    if (follows !== undefined && snapshot !== undefined && (follows.commit_lsn !== snapshot.image_lsn || follows.chunk_index !== snapshot.index - 1 || follows.chunk_last)) {
      ctx.addIssue({ code: 'custom', path: ['follows'], message: 'on a table copy chunk, must name the chunk before it of the same copy: { commit_lsn: snapshot.image_lsn, chunk_index: snapshot.index - 1, chunk_last: false }' });
    }
    for (const [index, event] of batch.events.entries()) {
      const columns = relations.get(relationKey(event.schema, event.table));
      if (!columns) {
        ctx.addIssue({
          code: 'custom',
          path: ['events', index, 'table'],
          message: `no relation metadata for ${JSON.stringify(event.schema)}.${JSON.stringify(event.table)} in this batch`,
        });
        continue;
      }
      for (const field of ['data', 'old_data'] as const) {
        const row = event[field] as unknown;
        if (typeof row !== 'object' || row === null) continue;
        for (const column of Object.keys(row)) {
          if (!columns.has(column)) {
            ctx.addIssue({ code: 'custom', path: ['events', index, field, column], message: 'column is not in the relation metadata' });
          }
        }
      }
      const identity = identityProblem(event, described.get(relationKey(event.schema, event.table))!);
      if (identity !== undefined) ctx.addIssue({ code: 'custom', path: ['events', index, 'old_data'], message: identity });
      if (batch.snapshot && (event.operation !== 'INSERT' || event.schema !== batch.snapshot.schema || event.table !== batch.snapshot.table)) {
        ctx.addIssue({ code: 'custom', path: ['events', index, 'operation'], message: "a table copy carries only INSERTs of the snapshot's table" });
      }
      const afterSeq = batch.chunk.after_seq;
      if (afterSeq !== undefined && isLsnText(event.commit_lsn) && parseLsn(event.commit_lsn) === batchCommit && event.seq <= afterSeq) {
        ctx.addIssue({ code: 'custom', path: ['events', index, 'seq'], message: `is not after chunk.after_seq (${afterSeq}): the chunk would repeat the previous one` });
      }
      if (batchCommit !== undefined && isLsnText(event.commit_lsn) && parseLsn(event.commit_lsn) > batchCommit) {
        ctx.addIssue({ code: 'custom', path: ['events', index, 'commit_lsn'], message: "is after the batch's commit_lsn" });
      }
      if (isLsnText(event.lsn) && isLsnText(event.commit_lsn) && parseLsn(event.lsn) > parseLsn(event.commit_lsn)) {
        ctx.addIssue({ code: 'custom', path: ['events', index, 'lsn'], message: "is after the event's commit_lsn (a change precedes its commit)" });
      }
    }
  });
export type Batch = z.infer<typeof batchSchema>;

/** True for a batch that carries no events and no table copy (a connectivity and credentials check). */
export function isPing(batch: Batch): boolean {
  return batch.events.length === 0 && batch.snapshot === undefined;
}
