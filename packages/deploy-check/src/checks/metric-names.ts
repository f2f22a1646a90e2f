import { type Deployment, MONITORING_FILES } from '../deployment.js';
import { knownMetrics, TARGET_LABELS } from '../metrics/known-metrics.js';
import { promqlNames, type QueryNames } from '../metrics/promql-names.js';
import { repoPath } from '../repo.js';

/**
 * Every series an alert rule or a dashboard query selects is one the services export (read
 * from their real registries), every label it matches or groups by is one the series carries
 * (or job/instance), and every `job` it names is a scrape job of prometheus.yml. A renamed
 * metric would otherwise leave an alert that can never fire and a panel that stays empty.
 */
export async function checkMetricNames(deployment: Deployment): Promise<string[]> {
  const known = await knownMetrics();
  const jobs = new Set(deployment.prometheus.jobs.map((job) => job.name));
  const queries = [
    ...deployment.alertRules.map((query) => ({ ...query, file: MONITORING_FILES.alerts })),
    ...deployment.dashboard.queries.map((query) => ({ ...query, file: MONITORING_FILES.dashboard })),
  ];
  const problems: string[] = [];
  for (const { file, where, expr } of queries) {
    const at = `${repoPath(file)}: ${where}`;
    const names = readQuery(expr);
    if (names instanceof Error) {
      problems.push(`${at}: ${names.message}`);
      continue;
    }
    if (names.selectors.length === 0) problems.push(`${at}: selects no series: ${expr}`);
    const labelsInQuery = new Set(TARGET_LABELS);
    for (const selector of names.selectors) {
      const metric = known.get(selector.metric);
      if (!metric) {
        problems.push(`${at}: ${selector.metric} is not a metric of either service`);
        continue;
      }
      for (const label of metric.labels) labelsInQuery.add(label);
      for (const matcher of selector.matchers) {
        if (!metric.labels.has(matcher.label) && !TARGET_LABELS.has(matcher.label)) problems.push(`${at}: ${selector.metric} has no label ${matcher.label} (it has ${[...metric.labels].join(', ') || 'none'})`);
        if (matcher.label === 'job' && (matcher.op === '=' || matcher.op === '=~')) {
          for (const job of matcher.op === '=' ? [matcher.value] : matcher.value.split('|')) {
            if (!jobs.has(job)) problems.push(`${at}: job "${job}" is not a scrape job of ${repoPath(deployment.prometheus.path)}`);
          }
        }
      }
    }
    for (const label of names.groupingLabels) {
      if (!labelsInQuery.has(label)) problems.push(`${at}: groups by ${label}, which none of its series carries`);
    }
  }
  return problems;
}

function readQuery(expr: string): QueryNames | Error {
  try {
    return promqlNames(expr);
  } catch (error) {
    return error as Error;
  }
}
