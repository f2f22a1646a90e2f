import { type Deployment, MONITORING_FILES } from '../deployment.js';
import { promqlNames } from '../metrics/promql-names.js';
import { repoPath } from '../repo.js';

/** The gauges that say a refused batch blocks replication, one per side. */
export const BLOCKED_GAUGES = ['storx_replicator_blocked', 'backuptools_source_blocked'] as const;

/** A blocked pipeline must page within this long (issue: "an alert fires within a minute"). */
export const BLOCKED_ALERT_DEADLINE_MS = 60_000;

/**
 * Each blocked gauge has an alerting rule, and that rule fires within a minute of the refusal
 * in the worst case: one scrape interval until Prometheus sees the gauge, one evaluation
 * interval until the rule looks, then its `for`.
 */
export function checkBlockedAlerts(deployment: Deployment): string[] {
  const problems: string[] = [];
  const file = repoPath(MONITORING_FILES.alerts);
  const { scrapeIntervalMs, evaluationIntervalMs } = deployment.prometheus;
  for (const gauge of BLOCKED_GAUGES) {
    const rules = deployment.alertRules.filter((rule) => rule.alert !== undefined && selects(rule.expr, gauge));
    if (rules.length === 0) {
      problems.push(`${file}: no alert rule selects ${gauge}: a blocked pipeline would page nobody`);
      continue;
    }
    const fastest = Math.min(...rules.map((rule) => scrapeIntervalMs + evaluationIntervalMs + (rule.forMs ?? 0)));
    if (!(fastest <= BLOCKED_ALERT_DEADLINE_MS)) {
      problems.push(
        `${file}: ${rules.map((rule) => rule.where).join(', ')} on ${gauge} fires ${Number.isNaN(fastest) ? 'at an unreadable time' : `${fastest / 1000} s`} after the refusal at worst (scrape_interval + evaluation_interval of ${repoPath(deployment.prometheus.path)} + for), more than ${BLOCKED_ALERT_DEADLINE_MS / 1000} s`,
      );
    }
  }
  return problems;
}

function selects(expr: string, metric: string): boolean {
  try {
    return promqlNames(expr).selectors.some((selector) => selector.metric === metric);
  } catch {
    return false;
  }
}
