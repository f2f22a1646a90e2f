import type { Batch, CopySection, Lsn } from '@storx-backup/protocol';
import type { DecodedRelation } from '../decode/decoded-relation.js';
import type { EncodedEvents } from './encoded-events.js';

/** A batch waiting for delivery, in commit order. */
export interface OutgoingBatch {
  /** Commit LSN of its last transaction (or of the split transaction, for a chunk). */
  commitLsn: Lsn;
  chunk: Batch['chunk'];
  /**
   * Where the slot may be acknowledged to once this batch is delivered: the end of its last
   * transaction's commit record. Undefined for a chunk that is not its transaction's last.
   */
  ackLsn: Lsn | undefined;
  /** Its changes, as their events' JSON. */
  events: EncodedEvents;
  relations: Map<number, DecodedRelation>;
  bytes: number;
  /** Commit time (Unix ms) of its last transaction. */
  lastCommitTimeMs: number;
  /** The batch sent before it in this session, when several are in flight (DeliveryWindow; the protocol's `follows`). */
  follows?: Batch['follows'];
  /** Set on a chunk of a table copy (see the protocol's `snapshot` field). */
  snapshot?: Batch['snapshot'];
  /** A table copy chunk's rows as COPY text (then `events` is empty): sealed as a copy frame. */
  copy?: CopySection;
}
