import type { ComposeFile, ComposeService } from '../compose/compose-file.js';
import type { Dockerfile } from '../dockerfile/dockerfile.js';
import type { Deployment } from '../deployment.js';
import { repoPath } from '../repo.js';
import { type EffectiveConfig, effectiveConfig } from './effective-config.js';
import { type Invocation, invocations } from './invocations.js';
import { serviceKindOf, type ServiceKind } from './service-kinds.js';

/** A compose service that runs one of our programs, with what it runs and how it is configured. */
export interface OurService {
  file: ComposeFile;
  service: ComposeService;
  kind: ServiceKind;
  /** The Dockerfile its image is built from. */
  dockerfile: Dockerfile | undefined;
  invocations: readonly Invocation[];
  /** `docker/local/compose.yml: service replicator`, for messages. */
  where: string;
  /** Set when it runs the long-running command (run, serve): its configuration, through the real loader. */
  running: EffectiveConfig | undefined;
}

export function ourServices(deployment: Deployment): OurService[] {
  return deployment.composeFiles.flatMap((file) =>
    file.services.flatMap((service) => {
      const kind = serviceKindOf(service);
      if (!kind) return [];
      const dockerfilePath = service.build?.dockerfile ?? kind.dockerfile;
      const dockerfile = deployment.dockerfiles.find((candidate) => candidate.path === dockerfilePath);
      const runs = invocations(service, kind, dockerfile);
      const where = `${repoPath(file.path)}: service ${service.name}`;
      const main = runs.find((run) => run.argv[0] === kind.serviceCommand);
      return [{ file, service, kind, dockerfile, invocations: runs, where, running: main && effectiveConfig(service, kind, main.argv, where) }];
    }),
  );
}
