import type { Logger } from '@storx-backup/service-kit';
import type { ReplicatorMetrics } from '../metrics.js';

/** Told about a copy's progress; shows it on a terminal or in the log, and in metrics. */
export interface CopyProgress {
  tableStarted(table: string, estimatedRows: number | undefined): void;
  rowsCopied(table: string, rows: number): void;
  tableDone(table: string): void;
}

const LOG_INTERVAL_MS = 10_000;
const BAR_INTERVAL_MS = 200;
const BAR_WIDTH = 30;

/**
 * Rows/s and ETA per table: a redrawn bar when `terminal` is given (a TTY), otherwise a log
 * line every 10 s and one per finished table. Always updates the metrics.
 */
export function copyProgress(options: { logger: Logger; metrics: ReplicatorMetrics; terminal?: NodeJS.WriteStream }): CopyProgress {
  const { logger, metrics, terminal } = options;
  let current = { table: '', estimate: undefined as number | undefined, rows: 0, startedAt: 0, shownAt: 0 };
  const line = (): string => {
    const seconds = (Date.now() - current.startedAt) / 1000;
    const rate = seconds > 0 ? current.rows / seconds : 0;
    const estimate = current.estimate !== undefined && current.estimate >= current.rows ? current.estimate : undefined;
    const eta = estimate !== undefined && rate > 0 ? `, ETA ${Math.ceil((estimate - current.rows) / rate)} s` : '';
    const bar = estimate ? `[${'#'.repeat(Math.round((current.rows / estimate) * BAR_WIDTH)).padEnd(BAR_WIDTH, '.')}] ` : '';
    return `copying ${current.table}: ${bar}${current.rows}${estimate !== undefined ? ` of ~${estimate}` : ''} rows, ${Math.round(rate)} rows/s${eta}`;
  };
  const show = (force: boolean): void => {
    const now = Date.now();
    if (!force && now - current.shownAt < (terminal ? BAR_INTERVAL_MS : LOG_INTERVAL_MS)) return;
    current.shownAt = now;
    if (terminal) terminal.write(`\r${line()}\x1b[K`);
    else logger.info({ table: current.table, rows: current.rows, estimatedRows: current.estimate }, line());
  };
  return {
    tableStarted(table, estimatedRows) {
      current = { table, estimate: estimatedRows, rows: 0, startedAt: Date.now(), shownAt: Date.now() };
      if (estimatedRows !== undefined) metrics.snapshotRowsEstimated.set({ table }, estimatedRows);
      logger.info({ table, estimatedRows }, `copying ${table}`);
    },
    rowsCopied(table, rows) {
      current.rows += rows;
      metrics.snapshotRowsCopied.inc({ table }, rows);
      show(false);
    },
    tableDone(table) {
      if (terminal) terminal.write(`\r${line()}\x1b[K\n`);
      const seconds = (Date.now() - current.startedAt) / 1000;
      logger.info({ table, rows: current.rows, seconds: Math.round(seconds * 10) / 10, rowsPerSecond: Math.round(current.rows / Math.max(seconds, 0.001)) }, `copied ${table}`);
    },
  };
}
