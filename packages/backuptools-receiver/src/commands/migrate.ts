import { formatFlagsHelp, formatOptionsHelp, createLogger, parseCommandLine } from '@storx-backup/service-kit';
import { DATABASE_OPTIONS, ENV_PREFIX, loadReceiverConfig } from '../config.js';
import { createBackupDb } from '../db.js';
import { migrateState } from '../state/migrations.js';
import type { Command } from '@storx-backup/service-kit';

const FLAGS = {
  config: { type: 'string', description: 'YAML config file (or BACKUPTOOLS_CONFIG)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const;


export const migrateCommand: Command = {
  name: 'migrate',
  summary: "create the receiver's state schema (serve does this too)",
  async run(argv, context) {
    const parsed = parseCommandLine(argv, DATABASE_OPTIONS, FLAGS, 'backuptools-receiver migrate');
    if (parsed.flags['help']) {
      context.stdout(`Usage: backuptools-receiver migrate [--config FILE] [--database-url URL] [--state-schema NAME]

Creates the state schema and its tables in the backup database (serve does this too at start).
Idempotent. Exit 0 when the schema is ready, 1 when the database cannot be reached or written,
2 for a command-line or configuration mistake.

${formatFlagsHelp(FLAGS)}

Options (flags > environment > config file > defaults):
${formatOptionsHelp(DATABASE_OPTIONS, ENV_PREFIX)}
`);
      return 0;
    }
    const config = loadReceiverConfig({ env: context.env, flags: parsed.options, configFile: parsed.flags['config'] as string | undefined }, 'database');
    const { db } = createBackupDb(config.databaseUrl, 1, createLogger({ name: 'backuptools-receiver', level: 'warn' }));
    try {
      await migrateState(db, config.stateSchema);
      context.stdout(`state schema ${config.stateSchema} is ready\n`);
      return 0;
    } finally {
      await db.destroy();
    }
  },
};
