import type { Deployment } from '../deployment.js';
import { locate } from '../services/container-paths.js';
import { ourServices } from '../services/our-services.js';

/**
 * The configuration each service container starts with is valid: environment, command-line
 * flags and the mounted config file go through the service's real loader (unknown keys, wrong
 * types and missing required options fail as they would at start), and every key, certificate
 * and CA file it names is on one of the container's mounts.
 */
export function checkConfigs(deployment: Deployment): string[] {
  const problems: string[] = [];
  for (const { service, running, where } of ourServices(deployment)) {
    if (!running) continue;
    problems.push(...running.problems);
    for (const path of running.config?.files ?? []) {
      if (!locate(service, path)) problems.push(`${where}: ${path} (named in its configuration) is on none of its volumes`);
    }
  }
  return problems;
}
