import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { asArray, asRecord, asString } from '../untyped.js';

export interface GrafanaProvisioning {
  datasources: readonly { uid: string; url: string }[];
  /** Folders the file providers load dashboards from (container paths). */
  dashboardPaths: readonly string[];
}

export function loadGrafanaProvisioning(datasourcesPath: string, dashboardsPath: string): GrafanaProvisioning {
  return parseGrafanaProvisioning(readFileSync(datasourcesPath, 'utf8'), readFileSync(dashboardsPath, 'utf8'));
}

export function parseGrafanaProvisioning(datasourcesText: string, dashboardsText: string): GrafanaProvisioning {
  const datasources = asArray(asRecord(parseYaml(datasourcesText) as unknown)?.['datasources']).map((entry) => {
    const source = asRecord(entry) ?? {};
    return { uid: asString(source['uid']) ?? '', url: asString(source['url']) ?? '' };
  });
  const dashboardPaths = asArray(asRecord(parseYaml(dashboardsText) as unknown)?.['providers']).flatMap((entry) => asString(asRecord(asRecord(entry)?.['options'])?.['path']) ?? []);
  return { datasources, dashboardPaths };
}
