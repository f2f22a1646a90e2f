import type { ReceiverErrorCode } from '../errors.js';

/**
 * What the operator does about a refusal, in one line, for the receiver's `status`, its ping
 * reply and the replicator's `status` (docs/errors.md has the longer form of each). Only codes
 * the sender does not retry block replication; the others never reach a refusal record.
 */
const FIXES: Partial<Record<ReceiverErrorCode, string>> = {
  MALFORMED_REQUEST: 'something between the hosts rewrites requests, or sender and receiver versions differ: check proxies, compare versions',
  CHUNK_OUT_OF_ORDER: "the backup is older than the sender believes (restored from a backup?): resnapshot (docs/operations.md, \"slot lost\")",
  TABLE_COPY_IN_PROGRESS: 'if no copy is running, start storx-replicator run (it redoes unfinished copies) or run storx-replicator resync TABLE',
  UNSUPPORTED_MEDIA_TYPE: 'a proxy rewrote content-type, or the sender uses a body format this receiver does not know: upgrade the receiver, or set the sender\'s replication.format to auto',
  BODY_TOO_LARGE: "raise the receiver's body-limit or lower the sender's replication.max-batch-bytes (replication.copy-chunk-bytes for a table copy)",
  PAYLOAD_INVALID: 'sender and receiver versions disagree: upgrade the older one',
  TABLE_NOT_ALLOWED: "add the table to the receiver's tables, or remove it from the sender's replication.tables",
  TABLE_INCOMPATIBLE: 'make the backup table match the source (the message says how); create missing types (enum, domain, composite) on the backup with the source\'s DDL',
  APPLY_REJECTED: 'the backup diverged from the source or has extra constraints: compare (storx-replicator resync TABLE), fix, or resnapshot',
};

/** The fix for a refusal code; a code without its own line points at docs/errors.md. */
export function refusalFix(code: string): string {
  return (Object.hasOwn(FIXES, code) ? FIXES[code as ReceiverErrorCode] : undefined) ?? `see ${code} in docs/errors.md`;
}
