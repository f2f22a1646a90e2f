// The copy's progress: a redrawn bar with rows/s and ETA on a terminal, log lines otherwise,
// and the metrics either way.
import { describe, expect, it } from 'vitest';
import { createLogger } from '@storx-backup/service-kit';
import { ReplicatorMetrics } from '../src/metrics.js';
import { copyProgress } from '../src/snapshot/copy-progress.js';

function captureLogger(): { logger: ReturnType<typeof createLogger>; lines: () => { msg: string; rows?: number }[] } {
  const chunks: string[] = [];
  const logger = createLogger({ name: 'test', level: 'info', destination: { write: (chunk: string) => chunks.push(chunk) > 0 } as unknown as NodeJS.WritableStream });
  return { logger, lines: () => chunks.map((chunk) => JSON.parse(chunk) as { msg: string; rows?: number }) };
}

describe('copy progress', () => {
  it('draws a bar with rows, rows/s and ETA on a terminal', async () => {
    const writes: string[] = [];
    const terminal = { write: (text: string) => writes.push(text) > 0 } as unknown as NodeJS.WriteStream;
    const metrics = new ReplicatorMetrics();
    const { logger } = captureLogger();
    const progress = copyProgress({ logger, metrics, terminal });
    progress.tableStarted('satellite/0.objects', 1000);
    await new Promise((resolve) => setTimeout(resolve, 250));
    progress.rowsCopied('satellite/0.objects', 250);
    progress.tableDone('satellite/0.objects');
    expect(writes.join('')).toMatch(/\r?copying satellite\/0\.objects: \[#{7,8}\.+\] 250 of ~1000 rows, \d+ rows\/s, ETA \d+ s/);
    expect(await metrics.registry.getSingleMetricAsString('storx_replicator_snapshot_rows_copied_total')).toContain('table="satellite/0.objects"} 250');
    expect(await metrics.registry.getSingleMetricAsString('storx_replicator_snapshot_rows_estimated')).toContain('table="satellite/0.objects"} 1000');
  });

  it('logs the start and the end of each table without a terminal', () => {
    const { logger, lines } = captureLogger();
    const progress = copyProgress({ logger, metrics: new ReplicatorMetrics() });
    progress.tableStarted('satellite/0.segments', undefined);
    progress.rowsCopied('satellite/0.segments', 10);
    progress.tableDone('satellite/0.segments');
    expect(lines().map((line) => line.msg)).toEqual(['copying satellite/0.segments', 'copied satellite/0.segments']);
    expect(lines()[1]).toMatchObject({ rows: 10 });
  });
});
