/** How one inspected item came out. `status` uses all four; `doctor` only ok and error. */
export type Mark = 'ok' | 'warning' | 'error' | 'skipped';

export const MARK_SYMBOLS: Readonly<Record<Mark, string>> = { ok: '✓', warning: '!', error: '✗', skipped: '-' };

/**
 * One item as an output line, with its fix on indented lines below it. Several fix lines are
 * kept as lines (the seed writes its fixes as short lists and as SQL with a comment line).
 */
export function formatItem(mark: Mark, text: string, fix: readonly string[] = []): string {
  const lines = [`${MARK_SYMBOLS[mark]} ${text}`];
  fix.forEach((line, index) => lines.push(`    ${index === 0 ? 'fix: ' : '     '}${line}`));
  return `${lines.join('\n')}\n`;
}
