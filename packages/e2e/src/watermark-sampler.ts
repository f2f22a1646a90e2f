import { parseLsn } from '@storx-backup/protocol';
import { connect } from '@storx-backup/test-postgres';

/**
 * Samples the receiver's watermarks while a scenario runs; `stop()` returns every violation of
 * "the watermark never moves backwards" (commit LSN, then the last change applied from an
 * incomplete transaction) that it saw.
 */
export function sampleWatermarks(backupUrl: string, intervalMs = 100): { stop(): Promise<string[]> } {
  let running = true;
  const violations: string[] = [];
  const last = new Map<string, { lsn: bigint; chunk: number; text: string }>();
  const loop = (async () => {
    const client = await connect(backupUrl);
    client.on('error', () => undefined); // a backup restart ends it; samples simply stop
    try {
      while (running) {
        const { rows } = await client
          .query<{ source_id: string; commit_lsn: string | null; event_seq: number | null; chunk_last: boolean }>('SELECT source_id, commit_lsn::text, event_seq, chunk_last FROM backuptools_state.watermarks')
          .catch(() => ({ rows: [] }));
        for (const row of rows) {
          if (row.commit_lsn === null) continue;
          const lsn = parseLsn(row.commit_lsn);
          const chunk = row.chunk_last ? Number.MAX_SAFE_INTEGER : (row.event_seq ?? -1);
          const text = `${row.commit_lsn}${row.chunk_last ? '' : `#${row.event_seq ?? '-'}…`}`;
          const previous = last.get(row.source_id);
          if (previous && (lsn < previous.lsn || (lsn === previous.lsn && chunk < previous.chunk))) violations.push(`${row.source_id}: ${previous.text} → ${text}`);
          last.set(row.source_id, { lsn, chunk, text });
        }
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return violations;
    },
  };
}
