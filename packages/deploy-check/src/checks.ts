import { checkBlockedAlerts } from './checks/blocked-alerts.js';
import { checkBuilds } from './checks/builds.js';
import { checkCommands } from './checks/commands.js';
import { checkComposeSyntax } from './checks/compose-syntax.js';
import { checkConfigs } from './checks/configs.js';
import { checkDockerfiles } from './checks/dockerfiles.js';
import { checkEnvironment } from './checks/environment.js';
import { checkGrafana } from './checks/grafana.js';
import { checkKeyFiles } from './checks/key-files.js';
import { checkMetricNames } from './checks/metric-names.js';
import { checkMounts } from './checks/mounts.js';
import { checkPorts } from './checks/ports.js';
import { checkPostgresStandby } from './checks/postgres-standby.js';
import { checkPrometheus } from './checks/prometheus.js';
import { checkRedis } from './checks/redis.js';
import { checkShutdown } from './checks/shutdown.js';
import type { Deployment } from './deployment.js';

/** A check of the deployment files: the problems it finds, each naming the file and what is wrong. */
export type Check = (deployment: Deployment) => string[] | Promise<string[]>;

/** Every check, by name. Each has a test on the real files and one on a broken document. */
export const CHECKS = {
  'compose syntax': checkComposeSyntax,
  builds: checkBuilds,
  environment: checkEnvironment,
  mounts: checkMounts,
  configs: checkConfigs,
  'key files': checkKeyFiles,
  commands: checkCommands,
  ports: checkPorts,
  shutdown: checkShutdown,
  dockerfiles: checkDockerfiles,
  prometheus: checkPrometheus,
  grafana: checkGrafana,
  'metric names': checkMetricNames,
  redis: checkRedis,
  'postgres standby': checkPostgresStandby,
  'blocked alerts': checkBlockedAlerts,
} as const satisfies Record<string, Check>;
