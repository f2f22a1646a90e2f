import { randomBytes } from 'node:crypto';
import { type Lsn, lsnToFixedHex } from './lsn.js';

/** What identifies one delivery: the same batch gets the same id on every retry. */
export interface DeliveryKey {
  sourceId: string;
  slot: string;
  commitLsn: Lsn;
  chunkIndex: number;
}

/**
 * `<source>:<slot>:<commit LSN, 16 hex digits>:<chunk>`, for example
 * `storx-1:backuptools_slot:00000016B374D9A0:0`. Stable across retries, so receivers and
 * proxies can recognise a retry; the receiver's watermark, not the id, decides duplicates.
 * Source ids may contain '.', which ids may not (see signature.ts), so it becomes '-'.
 */
export function webhookId(key: DeliveryKey): string {
  return `${key.sourceId.replaceAll('.', '-')}:${key.slot}:${lsnToFixedHex(key.commitLsn)}:${key.chunkIndex}`;
}

/** A fresh id for a ping (a batch with no events): pings are never retried as the same message. */
export function pingWebhookId(sourceId: string, slot: string): string {
  return `${sourceId.replaceAll('.', '-')}:${slot}:ping:${randomBytes(8).toString('hex')}`;
}
