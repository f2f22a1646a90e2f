import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { asArray, asRecord, asString } from '../untyped.js';

/** A query in a monitoring file, named for messages (`alert StorxSlotLagHigh`, `panel "Slot lag" A`). */
export interface NamedQuery {
  where: string;
  expr: string;
  /** An alerting rule's name (undefined for recording rules and dashboard queries). */
  alert?: string;
  /** An alerting rule's `for`, in milliseconds (0 when absent: it fires at the first evaluation). */
  forMs?: number;
}

/** The expressions of a Prometheus rule file (alerting and recording rules). */
export function loadAlertRules(path: string): NamedQuery[] {
  return parseAlertRules(readFileSync(path, 'utf8'));
}

export function parseAlertRules(text: string): NamedQuery[] {
  const document = asRecord(parseYaml(text) as unknown) ?? {};
  return asArray(document['groups']).flatMap((group) =>
    asArray(asRecord(group)?.['rules']).map((entry) => {
      const rule = asRecord(entry) ?? {};
      const alert = asString(rule['alert']);
      const name = alert ?? asString(rule['record']) ?? '(unnamed)';
      return { where: `rule ${name}`, expr: asString(rule['expr']) ?? '', ...(alert === undefined ? {} : { alert, forMs: prometheusDuration(asString(rule['for']) ?? '0s') }) };
    }),
  );
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** A Prometheus duration (`30s`, `1m30s`, `0`) in milliseconds; NaN when unreadable. */
export function prometheusDuration(text: string): number {
  if (text.trim() === '0') return 0;
  const parts = [...text.trim().matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text.trim()) return Number.NaN;
  return parts.reduce((total, part) => total + Number(part[1]) * DURATION_UNITS_MS[part[2]!]!, 0);
}
