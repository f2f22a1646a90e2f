import { join } from 'node:path';
import { loadReceiverConfig, main as receiverMain, RECEIVER_OPTIONS } from '@storx-backup/backuptools-receiver';
import { type CommandContext, type OptionSpec } from '@storx-backup/service-kit';
import { loadReplicatorConfig, main as replicatorMain, REPLICATOR_OPTIONS } from '@storx-backup/storx-replicator';
// Not exported by the packages' entries: read from their sources, which is what the images run.
import { ENV_PREFIX as RECEIVER_ENV_PREFIX } from '../../../backuptools-receiver/src/config.js';
import { ReceiverMetrics } from '../../../backuptools-receiver/src/metrics.js';
import { ENV_PREFIX as REPLICATOR_ENV_PREFIX } from '../../../storx-replicator/src/config.js';
import { ReplicatorMetrics } from '../../../storx-replicator/src/metrics.js';
import { TopologyMetrics } from '../../../storx-replicator/src/topology/topology-metrics.js';
import { REPO_ROOT } from '../repo.js';

/** What a loaded configuration means for the container: what it serves and which files it opens. */
export interface ServiceConfig {
  /** Where /healthz and /metrics are served (the replicator: only with metrics-listen). */
  http: { scheme: 'http' | 'https'; host: string; port: number } | undefined;
  /** The replicator's receiver. */
  webhookUrl: URL | undefined;
  /** Key, certificate and CA files the service reads at start (container paths). */
  files: readonly string[];
  /** How long a clean stop may take after SIGTERM, before the process gives up itself. */
  stopBudgetMs: number;
}

/** One of our two services, as the deployment files see it: image, options, command line, metrics. */
export interface ServiceKind {
  program: 'storx-replicator' | 'backuptools-receiver';
  packageDir: string;
  dockerfile: string;
  options: readonly OptionSpec[];
  envPrefix: string;
  /** The long-running command (`run`, `serve`): the only one whose configuration must be complete. */
  serviceCommand: string;
  main: (argv: readonly string[], context: CommandContext) => Promise<number>;
  /** The service's real loader; throws its ConfigError. `configFile` is a host path. */
  loadConfig: (env: NodeJS.ProcessEnv, flags: ReadonlyMap<string, string>, configFile: string | undefined) => ServiceConfig;
  /** Fresh registries with every metric the service's image exports (the replicator's: run's and topology's). */
  metricsRegistries: () => ReplicatorMetrics['registry'][];
}

export const REPLICATOR: ServiceKind = {
  program: 'storx-replicator',
  packageDir: join(REPO_ROOT, 'packages', 'storx-replicator'),
  dockerfile: join(REPO_ROOT, 'docker', 'storx-replicator.Dockerfile'),
  options: REPLICATOR_OPTIONS,
  envPrefix: REPLICATOR_ENV_PREFIX,
  serviceCommand: 'run',
  main: replicatorMain,
  loadConfig: (env, flags, configFile) => {
    // `false`: no file at all. Undefined would fall back to the seed's path in this machine's home.
    const config = loadReplicatorConfig({ env, flags, configFile: configFile ?? false });
    return {
      http: config.metricsListen && { scheme: 'http', ...config.metricsListen },
      webhookUrl: config.webhookUrl,
      files: [config.webhookPublicKeyPath, config.signingKeyPath, ...(config.webhookCaPath === undefined ? [] : [config.webhookCaPath])],
      // `run` exits by itself shutdown-timeout + 5s after SIGTERM (commands/run.ts).
      stopBudgetMs: config.shutdownTimeoutMs + 5_000,
    };
  },
  // `run`'s metrics and `topology --metrics-listen`'s: the same image serves both.
  metricsRegistries: () => [new ReplicatorMetrics().registry, new TopologyMetrics().registry],
};

export const RECEIVER: ServiceKind = {
  program: 'backuptools-receiver',
  packageDir: join(REPO_ROOT, 'packages', 'backuptools-receiver'),
  dockerfile: join(REPO_ROOT, 'docker', 'backuptools-receiver.Dockerfile'),
  options: RECEIVER_OPTIONS,
  envPrefix: RECEIVER_ENV_PREFIX,
  serviceCommand: 'serve',
  main: receiverMain,
  loadConfig: (env, flags, configFile) => {
    const config = loadReceiverConfig({ env, flags, configFile });
    return {
      http: { scheme: config.tls ? 'https' : 'http', host: config.listenHost, port: config.listenPort },
      webhookUrl: undefined,
      files: [...config.privateKeyPaths, ...config.trustedSenderKeyPaths, ...(config.tls ? [config.tls.certPath, config.tls.keyPath] : [])],
      stopBudgetMs: config.shutdownTimeoutMs,
    };
  },
  metricsRegistries: () => [new ReceiverMetrics().registry],
};

export const SERVICE_KINDS: readonly ServiceKind[] = [REPLICATOR, RECEIVER];

/** Which of our services a compose service runs: by the Dockerfile it builds, else by its image name. */
export function serviceKindOf(service: { build: { dockerfile: string } | undefined; image: string | undefined }): ServiceKind | undefined {
  if (service.build) return SERVICE_KINDS.find((kind) => kind.dockerfile === service.build!.dockerfile);
  return SERVICE_KINDS.find((kind) => service.image?.split(':')[0]?.endsWith(`/${kind.program}`));
}
