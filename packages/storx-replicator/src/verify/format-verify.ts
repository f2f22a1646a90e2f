import type { RangeDifference, TableVerdict } from './verify-table.js';

/** The JSON report of `verify --json` (fields documented in its --help and docs/cli.md). */
export interface VerifyReport {
  status: 'equal' | 'different';
  exit_code: 0 | 1;
  checked_at: string;
  source_id: string;
  range_rows: number;
  tables: TableVerdict[];
  speed: { source_rows_per_second: number | null; backup_rows_per_second: number | null };
}

export function verifyReport(sourceId: string, rangeRows: number, tables: TableVerdict[]): VerifyReport {
  const equal = tables.every((table) => table.status === 'equal');
  const rows = tables.reduce((sum, table) => sum + table.source_rows, 0);
  const rate = (seconds: number): number | null => (seconds > 0 && rows > 0 ? Math.round(rows / seconds) : null);
  return {
    status: equal ? 'equal' : 'different',
    exit_code: equal ? 0 : 1,
    checked_at: new Date().toISOString(),
    source_id: sourceId,
    range_rows: rangeRows,
    tables,
    speed: { source_rows_per_second: rate(tables.reduce((sum, table) => sum + table.source_seconds, 0)), backup_rows_per_second: rate(tables.reduce((sum, table) => sum + table.backup_seconds, 0)) },
  };
}

const count = (n: number): string => n.toLocaleString('en-US');
const rows = (n: number): string => `${count(n)} ${n === 1 ? 'row' : 'rows'}`;
const key = (values: readonly string[] | null): string => (values === null ? '(none)' : values.length === 1 ? values[0]! : `(${values.join(', ')})`);

/** Differing ranges listed per table in the text report. */
const MAX_LISTED = 20;

/** Which keys a range holds, as the operator reads it: the source's first and last key in it, and the open ends. */
function span(keyed: boolean, difference: RangeDifference): string {
  if (!keyed) return 'the whole table (no primary key)';
  const keys = difference.first_key === null ? 'no source key' : key(difference.first_key) === key(difference.last_key) ? `key ${key(difference.first_key)}` : `keys ${key(difference.first_key)} .. ${key(difference.last_key)}`;
  if (difference.from === null && difference.to === null) return `${keys} (the whole key space)`;
  if (difference.from === null) return `${keys} (and any key before)`;
  if (difference.to === null) return `${keys} (and any key after)`;
  return keys;
}

/** The text report: one line per table, the differing ranges under it, the fix. */
export function formatVerify(report: VerifyReport): string {
  const lines: string[] = [];
  for (const table of report.tables) {
    switch (table.status) {
      case 'equal':
        lines.push(`✓ ${table.name}: equal (${rows(table.source_rows)}, ${table.ranges} ${table.ranges === 1 ? 'range' : 'ranges'})`);
        break;
      case 'different':
        lines.push(`✗ ${table.name}: differs in ${table.differences.length} key ${table.differences.length === 1 ? 'range' : 'ranges'} (source ${rows(table.source_rows)}, backup ${rows(table.backup_rows ?? 0)})`);
        for (const difference of table.differences.slice(0, MAX_LISTED)) {
          const what = difference.source_rows === difference.backup_rows ? `same count (${count(difference.source_rows)}), different rows` : `source ${count(difference.source_rows)}, backup ${difference.backup_rows > report.range_rows && table.key.length > 0 ? `more than ${count(report.range_rows)}` : count(difference.backup_rows)} rows`;
          lines.push(`    ${span(table.key.length > 0, difference)}: ${what}`);
        }
        if (table.differences.length > MAX_LISTED) lines.push(`    ... and ${table.differences.length - MAX_LISTED} more (--json lists every one)`);
        break;
      case 'missing_on_backup':
      case 'columns_missing':
      case 'not_verified':
        lines.push(`✗ ${table.name}: ${table.message ?? table.status}`);
        break;
    }
    if (table.fix !== null) lines.push(`  fix: ${table.fix}  (with the replicator service stopped; "storx-replicator resync --help")`);
  }
  const { source_rows_per_second: source, backup_rows_per_second: backup } = report.speed;
  if (source !== null || backup !== null) lines.push(`hashed ${source === null ? '-' : `${count(source)} rows/s`} on the source, ${backup === null ? '-' : `${count(backup)} rows/s`} on the backup (first pass; the backup's time is its requests', waiting for it to catch up excluded)`);
  lines.push(report.status === 'equal' ? 'the backup equals the source' : 'the backup differs from the source');
  return `${lines.join('\n')}\n`;
}
