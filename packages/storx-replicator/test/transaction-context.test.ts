import { formatLsn, type Lsn } from '@storx-backup/protocol';
import { describe, expect, it } from 'vitest';
import type { ChangeContext } from '../src/decode/change-json.js';
import { pgTimestampToIso } from '../src/decode/commit-time.js';
import { TRANSACTION_CONTEXT_BYTES, writeTransactionContext } from '../src/decode/transaction-context.js';

describe('a transaction context written in place', () => {
  it('is byte for byte the JSON pieces the events had as strings, for every LSN, xid and commit time, one transaction after another in one buffer', () => {
    const context: ChangeContext = { shared: Buffer.alloc(TRANSACTION_CONTEXT_BYTES), timestampLsnEnd: 0, commitXidSeqStart: 0, commitXidSeqEnd: 0, lsnHigh: 0, lsnLow: 0, seq: 0 };
    const lsns = [0n, 1n, 0x16b3748n, 0xffff_ffffn, 0x1_0000_0000n, 0x16_b374_d848n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n];
    const xids = [0, 7, 10, 999_999, 1_000_000, 2 ** 31, 2 ** 32 - 1];
    const times = [0n, -1n, 818_331_600_123_456n, 818_331_600_000_007n, 818_331_601_100_000n, 2n ** 52n, -(2n ** 52n) - 5n];
    let checked = 0;
    for (const lsn of lsns) {
      for (const xid of xids) {
        for (const time of times) {
          writeTransactionContext(context, lsn, time, xid);
          expect(context.shared.toString('latin1', 0, context.timestampLsnEnd)).toBe(`"${pgTimestampToIso(time)}","lsn":"`);
          expect(context.shared.toString('latin1', context.commitXidSeqStart, context.commitXidSeqEnd)).toBe(`","commit_lsn":"${formatLsn(lsn as Lsn)}","xid":${xid},"seq":`);
          checked += 1;
        }
      }
    }
    expect(checked).toBe(lsns.length * xids.length * times.length);
  });
});
