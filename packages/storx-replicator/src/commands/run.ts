import { createLogger, exitOnShutdownSignal, formatFlagsHelp, formatOptionsHelp, parseCommandLine } from '@storx-backup/service-kit';
import { DEFAULT_CONFIG_PATH, ENV_PREFIX, loadReplicatorConfig, REPLICATOR_OPTIONS } from '../config.js';
import { Replicator } from '../replicator.js';
import type { Command } from '@storx-backup/service-kit';

const FLAGS = {
  config: { type: 'string', description: `YAML config file (or STORX_CONFIG; default ${DEFAULT_CONFIG_PATH} when it exists)` },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const;

export const runCommand: Command = {
  name: 'run',
  summary: 'stream changes from the slot to the receiver (the service)',
  async run(argv, context) {
    const parsed = parseCommandLine(argv, REPLICATOR_OPTIONS, FLAGS, 'storx-replicator run');
    if (parsed.flags['help']) {
      context.stdout(`Usage: storx-replicator run [--config FILE] [options]

Checks the source (wal_level, privileges, tables), creates the publication and the slot if they
are missing, then streams every committed change of the configured tables to the receiver as
signed, encrypted batches. The slot is acknowledged only up to what the receiver has committed.
Runs until SIGTERM or SIGINT. Precedence: flags > environment > config file > defaults.

max-retries: after that many consecutive failed deliveries the replicator logs an error and
reports itself unhealthy (/healthz, storx_replicator_healthy), and keeps retrying with backoff
up to max-retry-delay. It never skips a change and never acknowledges past one that was not
delivered (the seed's "drop after 3 retries" would silently lose data in a backup).

Exit status: 0 after a clean stop (SIGTERM, SIGINT); 1 when it stops on a problem, printed as
"error: ..." and "fix: ..." (a prerequisite of the source, a port in use; docs/errors.md);
2 for a configuration or command-line mistake, including a key file that does not load
(docs/cli.md). "storx-replicator doctor" checks every prerequisite before the first start.

${formatFlagsHelp(FLAGS)}

Options:
${formatOptionsHelp(REPLICATOR_OPTIONS, ENV_PREFIX)}
`);
      return 0;
    }
    const config = loadReplicatorConfig({ env: context.env, flags: parsed.options, configFile: parsed.flags['config'] as string | undefined });
    const logger = createLogger({ name: 'storx-replicator', level: config.logLevel });
    const replicator = new Replicator(config, logger);
    exitOnShutdownSignal(logger, () => replicator.stop(), config.shutdownTimeoutMs + 5_000);
    await replicator.run();
    return 0;
  },
};
