import { existsSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import type { Deployment } from '../deployment.js';
import { repoPath } from '../repo.js';
import { serviceKindOf } from '../services/service-kinds.js';

/**
 * Builds refer to a context directory and a Dockerfile inside it that exist; an image of ours
 * is built by some service of the same file (nobody publishes it to a registry to pull from),
 * and one image name is built from one Dockerfile only.
 */
export function checkBuilds(deployment: Deployment): string[] {
  const problems: string[] = [];
  for (const file of deployment.composeFiles) {
    const builtFrom = new Map<string, string>();
    for (const service of file.services) {
      const where = `${repoPath(file.path)}: service ${service.name}`;
      const build = service.build;
      if (build) {
        if (!existsSync(build.context) || !statSync(build.context).isDirectory()) problems.push(`${where}: build context ${repoPath(build.context)} is not a directory`);
        if (!existsSync(build.dockerfile)) problems.push(`${where}: Dockerfile ${repoPath(build.dockerfile)} does not exist`);
        if (relative(build.context, build.dockerfile).startsWith('..')) problems.push(`${where}: Dockerfile ${repoPath(build.dockerfile)} is outside its build context ${repoPath(build.context)}`);
        if (service.image !== undefined) {
          const other = builtFrom.get(service.image);
          if (other !== undefined && other !== build.dockerfile) problems.push(`${where}: image ${service.image} is also built from ${repoPath(other)}`);
          builtFrom.set(service.image, build.dockerfile);
        }
      }
    }
    for (const service of file.services) {
      if (!service.build && serviceKindOf(service) && !builtFrom.has(service.image ?? '')) {
        problems.push(`${repoPath(file.path)}: service ${service.name}: image ${service.image} is not built by any service of this file (and no registry has it)`);
      }
    }
  }
  return problems;
}
