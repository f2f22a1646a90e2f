import { formatItem } from './marks.js';

/** The seed's quick checklist is grouped by host; doctor keeps its three headings. */
export type ChecklistSection = 'PostgreSQL' | 'StorXMonitor' | 'Backuptools';

/** One checklist item as doctor reports it: ✓, or ✗ (or ! for a warning) with the fix. */
export interface ChecklistItem {
  section: ChecklistSection;
  ok: boolean;
  /** Not ok, but no failure either: marked !, and doctor still passes (e.g. a failover that needs a resnapshot). */
  warning?: true;
  /** What was checked and what was found. */
  title: string;
  /** For ✗: what to do, one line each (SQL statements, or the seed's troubleshooting list). */
  fix: string[];
}

export function passed(section: ChecklistSection, title: string): ChecklistItem {
  return { section, ok: true, title, fix: [] };
}

export function failed(section: ChecklistSection, title: string, fix: readonly string[]): ChecklistItem {
  return { section, ok: false, title, fix: [...fix] };
}

export function warned(section: ChecklistSection, title: string, fix: readonly string[]): ChecklistItem {
  return { section, ok: false, warning: true, title, fix: [...fix] };
}

/** Items under their section headings, in the order they were checked. */
export function formatChecklist(items: readonly ChecklistItem[]): string {
  let out = '';
  let section: ChecklistSection | undefined;
  for (const item of items) {
    if (item.section !== section) {
      section = item.section;
      out += `${out === '' ? '' : '\n'}${section}:\n`;
    }
    const lines = formatItem(item.ok ? 'ok' : item.warning ? 'warning' : 'error', item.title, item.fix).trimEnd().split('\n');
    out += lines.map((line) => `  ${line}\n`).join('');
  }
  return out;
}
