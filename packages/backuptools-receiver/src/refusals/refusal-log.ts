import { type Batch, formatLsn, parseLsn } from '@storx-backup/protocol';
import type { Logger } from '@storx-backup/service-kit';
import type { BackupDb } from '../db.js';
import { RECEIVER_ERRORS, type ReceiverError } from '../errors.js';
import { boundedText } from '../bounded-text.js';
import type { ReceiverMetrics } from '../metrics.js';
import { refusalFix } from './refusal-fixes.js';
import { clearRefusal, readRefusals, recordRefusal, type Refusal, refusalToJson } from './refusal-store.js';

/**
 * Remembers, per (source, slot), the batch the receiver last refused for good, so that a blocked
 * pipeline is visible on this side too: `backuptools-receiver status`, the gauge
 * `backuptools_source_blocked`, and the ping reply the replicator's `status` reads.
 *
 * The hot path pays nothing: a successful apply only looks up an in-memory set, and deletes the
 * record only when this process knows of one. Records written by another receiver process are
 * judged stale by time instead (`readRefusals`).
 */
export class RefusalLog {
  /** `source\0slot` → the code this process last recorded or loaded. */
  private readonly blocked = new Map<string, string>();

  constructor(
    private readonly db: BackupDb,
    private readonly stateSchema: string,
    private readonly metrics: ReceiverMetrics,
    private readonly logger: Logger,
  ) {}

  /** Loads the refusals in force (a restarted receiver still reports them). Never throws. */
  async load(): Promise<void> {
    try {
      for (const refusal of await readRefusals(this.db, this.stateSchema)) this.mark(refusal.sourceId, refusal.slot, refusal.code);
    } catch (error) {
      this.logger.warn({ err: error }, 'could not read the recorded refusals (the backup database is unreachable?)');
    }
  }

  /** A verified batch was refused with a code the sender does not retry: replication is blocked. Never throws. */
  async refused(batch: Batch, error: ReceiverError): Promise<void> {
    if (RECEIVER_ERRORS[error.code].retry) return;
    this.mark(batch.source_id, batch.slot, error.code);
    try {
      await recordRefusal(this.db, this.stateSchema, {
        sourceId: batch.source_id,
        slot: batch.slot,
        code: error.code,
        httpStatus: error.status,
        message: boundedText(error.message),
        commitLsn: readableLsn(batch.commit_lsn),
        chunkIndex: batch.chunk.index,
      });
    } catch (recordError) {
      this.logger.warn({ err: recordError, code: error.code }, 'could not record the refusal in the state schema');
    }
  }

  /** A batch of (source, slot) applied (or was a duplicate): whatever blocked it is gone. Never throws. */
  async accepted(sourceId: string, slot: string): Promise<void> {
    const key = `${sourceId}\0${slot}`;
    const code = this.blocked.get(key);
    if (code === undefined) return;
    this.blocked.delete(key);
    this.metrics.sourceBlocked.remove({ source_id: sourceId, slot, code });
    this.logger.info({ source: sourceId, slot, code }, 'replication from this source is no longer blocked: a batch applied');
    try {
      await clearRefusal(this.db, this.stateSchema, sourceId, slot);
    } catch (error) {
      this.logger.warn({ err: error }, 'could not delete the recorded refusal (status judges it stale by time)');
    }
  }

  /** The refusal in force for (source, slot), as the ping reply carries it; null when none. */
  async current(sourceId: string, slot: string): Promise<Record<string, unknown> | null> {
    const [refusal] = await readRefusals(this.db, this.stateSchema, { sourceId, slot });
    return refusal === undefined ? null : describeRefusal(refusal);
  }

  private mark(sourceId: string, slot: string, code: string): void {
    const key = `${sourceId}\0${slot}`;
    const previous = this.blocked.get(key);
    if (previous !== undefined && previous !== code) this.metrics.sourceBlocked.remove({ source_id: sourceId, slot, code: previous });
    this.blocked.set(key, code);
    this.metrics.sourceBlocked.set({ source_id: sourceId, slot, code }, 1);
  }
}

/** A refusal with its fix, in the form the ping reply and `status --json` print. */
export function describeRefusal(refusal: Refusal): Record<string, unknown> {
  return refusalToJson(refusal, refusalFix(refusal.code));
}

function readableLsn(text: string): string | null {
  try {
    return formatLsn(parseLsn(text));
  } catch {
    return null;
  }
}
