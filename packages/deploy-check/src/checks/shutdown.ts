import type { Deployment } from '../deployment.js';
import { ourServices } from '../services/our-services.js';

/** What compose waits after SIGTERM before it kills the container, when stop_grace_period is not set. */
const COMPOSE_DEFAULT_GRACE_MS = 10_000;

/**
 * A stop lets the service finish its batch in flight: stop_grace_period is at least the time
 * the service itself allows for a clean stop (shutdown-timeout, plus the replicator's 5 s
 * margin). Shorter, and docker kills it halfway (harmless for the data, but every stop would
 * look like a crash and redeliver).
 */
export function checkShutdown(deployment: Deployment): string[] {
  const problems: string[] = [];
  for (const { service, running, where } of ourServices(deployment)) {
    const budget = running?.config?.stopBudgetMs;
    if (budget === undefined) continue;
    const grace = service.stopGracePeriodMs ?? COMPOSE_DEFAULT_GRACE_MS;
    if (grace < budget) problems.push(`${where}: stop_grace_period is ${grace / 1000}s, shorter than the ${budget / 1000}s the service may need to stop cleanly`);
  }
  return problems;
}
