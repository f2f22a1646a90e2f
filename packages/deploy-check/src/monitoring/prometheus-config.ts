import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { asArray, asRecord, asString, asStrings } from '../untyped.js';
import { prometheusDuration } from './alert-rules.js';

export interface ScrapeJob {
  name: string;
  metricsPath: string;
  scheme: string;
  /** `host:port` */
  targets: readonly string[];
}

export interface PrometheusConfig {
  path: string;
  jobs: readonly ScrapeJob[];
  /** As written: paths inside the Prometheus container. */
  ruleFiles: readonly string[];
  /** global.scrape_interval and evaluation_interval in milliseconds (Prometheus' default: 1m each). */
  scrapeIntervalMs: number;
  evaluationIntervalMs: number;
}

export function loadPrometheusConfig(path: string): PrometheusConfig {
  return parsePrometheusConfig(readFileSync(path, 'utf8'), path);
}

/** The scrape jobs (static targets only) and rule files of a prometheus.yml, with Prometheus' defaults. */
export function parsePrometheusConfig(text: string, path: string): PrometheusConfig {
  const document = asRecord(parseYaml(text) as unknown) ?? {};
  const jobs = asArray(document['scrape_configs']).map((entry) => {
    const job = asRecord(entry) ?? {};
    return {
      name: asString(job['job_name']) ?? '',
      metricsPath: asString(job['metrics_path']) ?? '/metrics',
      scheme: asString(job['scheme']) ?? 'http',
      targets: asArray(job['static_configs']).flatMap((config) => asStrings(asRecord(config)?.['targets'])),
    };
  });
  const global = asRecord(document['global']) ?? {};
  return {
    path,
    jobs,
    ruleFiles: asStrings(document['rule_files']),
    scrapeIntervalMs: prometheusDuration(asString(global['scrape_interval']) ?? '1m'),
    evaluationIntervalMs: prometheusDuration(asString(global['evaluation_interval']) ?? '1m'),
  };
}
