import { rejectionFix, transportFix } from '../deliver/failure-fixes.js';
import type { PingOutcome } from './receiver-ping.js';

export interface PingProblem {
  /** error: replication would be blocked until someone fixes it; warning: run keeps retrying. */
  severity: 'warning' | 'error';
  message: string;
  fix: string[];
}

/**
 * What a ping outcome means for replication. A rejection (401, 404, ...) blocks it: the
 * replicator never skips a batch, so it would retry the same one forever. A receiver that is
 * down or busy is only a warning: run retries and resumes by itself.
 */
export function pingProblem(outcome: PingOutcome, signatureFix: readonly string[], format: string, url: URL): PingProblem | undefined {
  // The ping is always a v2 batch; a receiver written from the seed document may not know it.
  const seedNote = format === 'seed-v1' ? ' (replication.format is seed-v1: the ping is a v2 batch, which a receiver that only speaks the seed format may refuse)' : '';
  switch (outcome.kind) {
    case 'accepted':
      return undefined;
    case 'rejected':
      return outcome.httpStatus === 401
        ? { severity: 'error', message: `the receiver rejects our signature or encryption key (${outcome.reason})${seedNote}`, fix: [...signatureFix] }
        : { severity: 'error', message: `the receiver rejects our requests (${outcome.reason})${seedNote}`, fix: [outcome.httpStatus === 404 || outcome.httpStatus === 405 ? rejectionFix(`HTTP_${outcome.httpStatus}`, outcome.httpStatus, undefined) : "check replication.webhook-url (the receiver's endpoint is POST /webhook) and the receiver's log"] };
    case 'unexpected':
      return { severity: 'error', message: `the webhook URL answered, but not as a backup receiver: ${outcome.reason}`, fix: ["check replication.webhook-url: it must be the receiver's /webhook endpoint"] };
    case 'unavailable':
      return { severity: 'warning', message: `the receiver cannot take batches now (${outcome.reason})`, fix: ["check the receiver's log and its database; run keeps retrying"] };
    case 'unreachable':
      return { severity: 'warning', message: `the receiver is unreachable: ${outcome.reason}`, fix: [`${transportFix(outcome.reason, url)}; run keeps retrying`] };
  }
}
