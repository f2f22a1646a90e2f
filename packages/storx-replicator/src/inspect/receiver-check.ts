import type { ReplicatorConfig } from '../config.js';
import type { ReplicatorKeys } from '../replicator-keys.js';
import { type ChecklistItem, failed, passed } from './checklist-item.js';
import { pingProblem } from './ping-problem.js';
import { pingReceiver, signatureRejectedFix } from './receiver-ping.js';

/**
 * The Backuptools half of the checklist in one request: a signed, encrypted ping that only a
 * receiver with a working endpoint, the matching private key, our public key in its trust list
 * and its database up can answer with 200.
 */
export async function checkReceiver(config: ReplicatorConfig, keys: ReplicatorKeys | undefined, urlSet: boolean): Promise<ChecklistItem> {
  const title = 'the webhook URL answers and accepts our signature';
  if (!urlSet) return failed('Backuptools', `${title}: not checked (replication.webhook-url is not set)`, []);
  if (keys === undefined) return failed('Backuptools', `${title}: not checked (the keys above did not load)`, []);
  const outcome = await pingReceiver(config, keys);
  if (outcome.kind === 'accepted') {
    const { wire } = outcome;
    if (config.format === 'v3' && !wire.receiverFormats.includes('v3')) {
      return failed('Backuptools', `${title}: ${config.webhookUrl.href} accepted a ping, but replication.format is v3 and the receiver does not take v3 (it names ${wire.receiverFormats.join(', ') || 'no format'}: it is older)`, [
        'upgrade the receiver, or set replication.format to auto (v3 only where the receiver takes it) or v2',
      ]);
    }
    return passed('Backuptools', `${title}: ${config.webhookUrl.href} accepted a signed, encrypted ping (HTTP ${outcome.httpStatus}; applied from this source up to ${outcome.watermarkLsn ?? 'nothing yet'}); batches go as ${wire.format}, signed ${wire.signature}`);
  }
  const problem = pingProblem(outcome, signatureRejectedFix(config, keys), config.format, config.webhookUrl)!;
  return failed('Backuptools', `${title}: ${config.webhookUrl.href}: ${problem.message}`, problem.fix);
}
