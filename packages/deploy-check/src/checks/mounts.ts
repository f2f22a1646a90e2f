import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import type { Deployment } from '../deployment.js';
import { REPO_ROOT, repoPath } from '../repo.js';

/**
 * Every bind-mounted host path exists in the repository (docker creates a missing one as an
 * empty root-owned directory, which then fails in the container), and every named volume is
 * declared in the file's top-level `volumes:`.
 */
export function checkMounts(deployment: Deployment): string[] {
  const problems: string[] = [];
  for (const file of deployment.composeFiles) {
    for (const service of file.services) {
      const where = `${repoPath(file.path)}: service ${service.name}`;
      for (const mount of service.volumes) {
        if (mount.kind === 'volume') {
          if (!file.volumes.has(mount.source)) problems.push(`${where}: volume ${mount.source} (at ${mount.target}) is not declared under the top-level volumes:`);
        } else if (relative(REPO_ROOT, mount.source).startsWith('..')) {
          problems.push(`${where}: ${mount.source} (at ${mount.target}) is outside the repository`);
        } else if (!existsSync(mount.source)) {
          problems.push(`${where}: ${repoPath(mount.source)} (mounted at ${mount.target}) does not exist`);
        }
      }
    }
  }
  return problems;
}
