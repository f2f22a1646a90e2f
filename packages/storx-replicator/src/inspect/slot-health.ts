import { formatLsn } from '@storx-backup/protocol';
import { REPLICATOR_ERRORS } from '../errors.js';
import type { SlotState } from '../source/slot.js';
import type { StatusProblem } from './status-report.js';

/**
 * Judges the slot, the promise "nothing is lost" seen from the source:
 * errors: missing, not a pgoutput slot of this database, invalidated (wal_status = lost);
 * warnings: not in use (WAL piles up), about to be invalidated (unreserved), lag over the limit.
 * `receiverWatermark`: what the receiver applied (null: nothing; undefined: not known), which
 * tells a fresh install from a slot lost after use.
 */
export function judgeSlot(
  slotName: string,
  slot: SlotState | undefined,
  database: string,
  maxLagBytes: number,
  receiverWatermark: string | null | undefined,
): StatusProblem[] {
  if (slot === undefined) {
    const fix =
      receiverWatermark === null
        ? 'storx-replicator run creates it (the receiver has applied nothing from it yet)'
        : receiverWatermark === undefined
          ? `if the receiver never applied anything from this slot, storx-replicator run creates it; if it did, ${REPLICATOR_ERRORS.SLOT_MISSING_AFTER_USE.fix}`
          : REPLICATOR_ERRORS.SLOT_MISSING_AFTER_USE.fix;
    const applied = typeof receiverWatermark === 'string' ? `, but the receiver has applied changes from it up to ${receiverWatermark}` : '';
    return [{ severity: 'error', item: 'slot', message: `replication slot ${slotName} does not exist${applied}`, fix }];
  }
  if (slot.plugin !== 'pgoutput' || slot.database !== database) {
    return [{ severity: 'error', item: 'slot', message: `slot ${slotName} uses plugin ${slot.plugin ?? '(none: a physical slot)'} in database ${slot.database ?? '(none)'}; expected pgoutput in ${database}`, fix: REPLICATOR_ERRORS.SLOT_WRONG_PLUGIN.fix }];
  }
  if (slot.walStatus === 'lost') {
    return [{ severity: 'error', item: 'slot', message: `slot ${slotName} is invalidated (wal_status = lost, max_slot_wal_keep_size exceeded): WAL it still needed was removed before it was replicated; a resnapshot is needed`, fix: REPLICATOR_ERRORS.SLOT_LOST.fix }];
  }
  const problems: StatusProblem[] = [];
  if (!slot.active) {
    problems.push({ severity: 'warning', item: 'slot', message: `slot ${slotName} is not in use: no replicator is streaming from it, and the source keeps its WAL`, fix: 'start storx-replicator run (or find out why it stopped: its log, storx_replicator_healthy)' });
  }
  if (slot.walStatus === 'unreserved') {
    problems.push({ severity: 'warning', item: 'slot', message: `slot ${slotName} holds more WAL than max_slot_wal_keep_size (wal_status = unreserved): the next checkpoint invalidates it`, fix: 'get the replicator streaming now; once the slot is lost, the backup needs a resnapshot' });
  }
  if (slot.lagBytes > BigInt(maxLagBytes)) {
    const confirmed = slot.confirmedFlushLsn === undefined ? 'nothing' : formatLsn(slot.confirmedFlushLsn);
    problems.push({ severity: 'warning', item: 'lag', message: `slot ${slotName} lags ${slot.lagBytes} bytes behind the WAL (confirmed ${confirmed}, current ${formatLsn(slot.currentWalLsn)}), more than ${maxLagBytes}`, fix: 'check that the replicator runs and the receiver accepts its batches; the source keeps WAL until the slot catches up' });
  }
  return problems;
}
