import { exitOnShutdownSignal, formatFlagsHelp, formatOptionsHelp, createLogger, parseCommandLine } from '@storx-backup/service-kit';
import { ENV_PREFIX, loadReceiverConfig, RECEIVER_OPTIONS } from '../config.js';
import { startReceiver } from '../server.js';
import type { Command } from '@storx-backup/service-kit';

const FLAGS = {
  config: { type: 'string', description: 'YAML config file (or BACKUPTOOLS_CONFIG)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const;

export const serveCommand: Command = {
  name: 'serve',
  summary: 'receive, verify, decrypt and apply batches (POST /webhook)',
  async run(argv, context) {
    const parsed = parseCommandLine(argv, RECEIVER_OPTIONS, FLAGS, 'backuptools-receiver serve');
    if (parsed.flags['help']) {
      context.stdout(`Usage: backuptools-receiver serve [--config FILE] [options]

Listens for signed, encrypted batches on POST /webhook and applies each to the backup database
in one transaction together with its watermark. Also serves /healthz, /readyz and /metrics.
Precedence: flags > environment > config file > defaults.

Exit status: 0 after a clean stop (SIGTERM, SIGINT); 1 when it cannot start (the backup
database unreachable, the port in use); 2 for a configuration or command-line mistake,
including a key file that does not load (docs/cli.md).

${formatFlagsHelp(FLAGS)}

Options:
${formatOptionsHelp(RECEIVER_OPTIONS, ENV_PREFIX)}
`);
      return 0;
    }
    const config = loadReceiverConfig({ env: context.env, flags: parsed.options, configFile: parsed.flags['config'] as string | undefined });
    const logger = createLogger({ name: 'backuptools-receiver', level: config.logLevel });
    const receiver = await startReceiver(config, logger);
    exitOnShutdownSignal(logger, () => receiver.close(), config.shutdownTimeoutMs);
    return new Promise<number>(() => {
      // Runs until a signal: exitOnShutdownSignal exits the process.
    });
  },
};
