import { readFileSync } from 'node:fs';
import { asArray, asRecord, asString } from '../untyped.js';
import type { NamedQuery } from './alert-rules.js';

export interface GrafanaDashboard {
  queries: readonly NamedQuery[];
  /** Every datasource uid a panel or a query names. */
  datasourceUids: ReadonlySet<string>;
}

export function loadGrafanaDashboard(path: string): GrafanaDashboard {
  return parseGrafanaDashboard(readFileSync(path, 'utf8'));
}

/** The Prometheus queries of a dashboard: every panel's targets, rows' nested panels included. */
export function parseGrafanaDashboard(text: string): GrafanaDashboard {
  const queries: NamedQuery[] = [];
  const datasourceUids = new Set<string>();
  const visit = (panels: readonly unknown[]): void => {
    for (const entry of panels) {
      const panel = asRecord(entry) ?? {};
      const title = asString(panel['title']) ?? '(untitled)';
      const uid = asString(asRecord(panel['datasource'])?.['uid']);
      if (uid !== undefined) datasourceUids.add(uid);
      for (const targetEntry of asArray(panel['targets'])) {
        const target = asRecord(targetEntry) ?? {};
        const targetUid = asString(asRecord(target['datasource'])?.['uid']);
        if (targetUid !== undefined) datasourceUids.add(targetUid);
        const expr = asString(target['expr']);
        if (expr !== undefined) queries.push({ where: `panel ${JSON.stringify(title)} query ${asString(target['refId']) ?? '?'}`, expr });
      }
      visit(asArray(panel['panels']));
    }
  };
  visit(asArray(asRecord(JSON.parse(text) as unknown)?.['panels']));
  return { queries, datasourceUids };
}
