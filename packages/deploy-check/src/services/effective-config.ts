import { existsSync } from 'node:fs';
import { ConfigError } from '@storx-backup/service-kit';
import type { ComposeService } from '../compose/compose-file.js';
import { repoPath } from '../repo.js';
import { locate } from './container-paths.js';
import type { ServiceConfig, ServiceKind } from './service-kinds.js';

export interface EffectiveConfig {
  /** Undefined when the configuration does not load. */
  config: ServiceConfig | undefined;
  problems: string[];
}

/**
 * The configuration the container would start with, through the service's real loader: the
 * compose `environment`, the flags of its command line, and the config file it names (--config
 * or <PREFIX>CONFIG), read from the host file mounted at that container path.
 */
export function effectiveConfig(service: ComposeService, kind: ServiceKind, argv: readonly string[], where: string): EffectiveConfig {
  const problems: string[] = [];
  const { flags, configFlag } = optionFlags(argv.slice(1), kind);
  const env = Object.fromEntries(service.environment);
  const containerFile = configFlag ?? (env[`${kind.envPrefix}CONFIG`] || undefined);
  let hostFile: string | undefined;
  if (containerFile !== undefined) {
    const located = locate(service, containerFile);
    if (located?.hostPath === undefined) problems.push(`${where}: config file ${containerFile} is not bind-mounted from the repository, so it cannot be checked`);
    else if (!existsSync(located.hostPath)) problems.push(`${where}: config file ${containerFile} is mounted from ${repoPath(located.hostPath)}, which does not exist`);
    else hostFile = located.hostPath;
  }
  if (problems.length > 0) return { config: undefined, problems };
  try {
    return { config: kind.loadConfig(env, flags, hostFile), problems };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { config: undefined, problems: error.problems.map((problem) => `${where}: ${problem}`) };
  }
}

/** `--option value` / `--option=value` for the service's options, and `--config`. Other flags are the command check's business. */
function optionFlags(args: readonly string[], kind: ServiceKind): { flags: Map<string, string>; configFlag: string | undefined } {
  const paths = new Set(kind.options.map((spec) => spec.path));
  const flags = new Map<string, string>();
  let configFlag: string | undefined;
  for (let index = 0; index < args.length; index += 1) {
    const match = /^--([^=]+)(?:=(.*))?$/.exec(args[index]!);
    const name = match?.[1];
    if (name === undefined || (name !== 'config' && !paths.has(name))) continue;
    const value = match![2] ?? args[++index] ?? '';
    if (name === 'config') configFlag = value;
    else flags.set(name, value);
  }
  return { flags, configFlag };
}
