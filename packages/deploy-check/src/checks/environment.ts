import { envName } from '@storx-backup/service-kit';
import type { Deployment } from '../deployment.js';
import { ourServices } from '../services/our-services.js';
// Not exported by the package's entry: read from its source, which is what the image runs.
import { TOPOLOGY_ENVIRONMENT } from '../../../storx-replicator/src/commands/topology.js';

/**
 * Every environment variable given to our services is one they read: an option's variable
 * (from the option lists that drive the services' loaders) or the config-file variable
 * (<PREFIX>CONFIG). A misspelt variable would be silently ignored by the service.
 */
export function checkEnvironment(deployment: Deployment): string[] {
  const problems: string[] = [];
  for (const { service, kind, where, invocations } of ourServices(deployment)) {
    const known = new Set([...kind.options.map((spec) => envName(kind.envPrefix, spec.path)), `${kind.envPrefix}CONFIG`]);
    // `storx-replicator topology` reads a few more (its server lists, Redis's password and TLS directory).
    if (invocations.some((run) => run.argv[0] === 'topology')) for (const name of TOPOLOGY_ENVIRONMENT) known.add(name);
    for (const name of service.environment.keys()) {
      if (!known.has(name)) problems.push(`${where}: environment variable ${name} is not read by ${kind.program} (docs/configuration.md lists its variables)`);
    }
  }
  return problems;
}
