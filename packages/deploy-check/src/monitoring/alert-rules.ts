import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { asArray, asRecord, asString } from '../untyped.js';

/** A query in a monitoring file, named for messages (`alert StorxSlotLagHigh`, `panel "Slot lag" A`). */
export interface NamedQuery {
  where: string;
  expr: string;
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
      const name = asString(rule['alert']) ?? asString(rule['record']) ?? '(unnamed)';
      return { where: `rule ${name}`, expr: asString(rule['expr']) ?? '' };
    }),
  );
}
