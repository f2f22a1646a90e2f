import { formatFlagsHelp, formatOptionsHelp, parseCommandLine, type Command } from '@storx-backup/service-kit';
import { DEFAULT_CONFIG_PATH, ENV_PREFIX, loadReplicatorConfig, REPLICATOR_OPTIONS } from '../config.js';
import { copyCommand } from '../snapshot/copy-command.js';

const FLAGS = {
  config: { type: 'string', description: `YAML config file (or STORX_CONFIG; default ${DEFAULT_CONFIG_PATH} when it exists)` },
  tables: { type: 'string', description: 'comma-separated tables to copy (default: every table in replication.tables)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const;

const HOW_IT_WORKS = `The copy reads the tables in a snapshot exported by a temporary replication slot (it needs one
free slot in max_replication_slots while it starts). On the receiver, each backup table is
emptied by the copy's first chunk and filled as of that snapshot; the stream's changes to it
that committed before the snapshot are then skipped, so the backup equals the source once
"run" has caught up. Stop the replicator service first (the command refuses while the slot is
in use); WAL accumulates on the source meanwhile. A copy interrupted (Ctrl-C, crash) is redone
for that table by the next "run" or by running the command again; finished tables are kept.
"run" copies every table by itself on its first run (replication.initial-snapshot).`;

export const snapshotCommand: Command = {
  name: 'snapshot',
  summary: 'copy the existing rows of tables to the receiver (service stopped)',
  async run(argv, context) {
    const parsed = parseCommandLine(argv, REPLICATOR_OPTIONS, FLAGS, 'storx-replicator snapshot');
    if (parsed.flags['help']) {
      context.stdout(`Usage: storx-replicator snapshot [--tables a,b] [--config FILE] [options]

Copies every existing row of the tables (default: all of replication.tables) to the receiver,
replacing what the backup holds for them.

${HOW_IT_WORKS}

${formatFlagsHelp(FLAGS)}

Options (flags > environment > config file > defaults):
${formatOptionsHelp(REPLICATOR_OPTIONS, ENV_PREFIX)}
`);
      return 0;
    }
    const config = loadReplicatorConfig({ env: context.env, flags: parsed.options, configFile: parsed.flags['config'] as string | undefined });
    const requested = (parsed.flags['tables'] as string | undefined)?.split(',').map((name) => name.trim()).filter((name) => name !== '');
    return copyCommand(config, requested && requested.length > 0 ? requested : config.tables, context);
  },
};

const RESYNC_FLAGS = { config: FLAGS.config, help: FLAGS.help };

export const resyncCommand: Command = {
  name: 'resync',
  summary: 'copy one table again, replacing its backup (service stopped)',
  async run(argv, context) {
    const parsed = parseCommandLine(argv, REPLICATOR_OPTIONS, RESYNC_FLAGS, 'storx-replicator resync');
    if (parsed.flags['help']) {
      context.stdout(`Usage: storx-replicator resync TABLE [--config FILE] [options]

Copies TABLE (a name from replication.tables) again: the backup table is emptied and refilled
as of a fresh snapshot. Use it when one backup table is suspected to differ from the source.

${HOW_IT_WORKS}

${formatFlagsHelp(RESYNC_FLAGS)}

Options (flags > environment > config file > defaults):
${formatOptionsHelp(REPLICATOR_OPTIONS, ENV_PREFIX)}
`);
      return 0;
    }
    if (parsed.positionals.length !== 1) {
      const got = parsed.positionals.length === 0 ? 'none' : parsed.positionals.join(', ');
      context.stderr(`error: resync takes exactly one table name (got ${got}): storx-replicator resync TABLE [options]; "storx-replicator resync --help" explains it\n`);
      return 2;
    }
    const config = loadReplicatorConfig({ env: context.env, flags: parsed.options, configFile: parsed.flags['config'] as string | undefined });
    return copyCommand(config, parsed.positionals, context);
  },
};
