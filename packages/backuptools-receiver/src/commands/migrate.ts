import { formatFlagsHelp, createLogger, parseCommandLine } from '@storx-backup/service-kit';
import { loadReceiverConfig, RECEIVER_OPTIONS } from '../config.js';
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
    const parsed = parseCommandLine(argv, RECEIVER_OPTIONS, FLAGS, 'backuptools-receiver migrate');
    if (parsed.flags['help']) {
      context.stdout(`Usage: backuptools-receiver migrate [--config FILE] [--database-url URL] [--state-schema NAME]

Creates the state schema and its watermarks table in the backup database. Idempotent.

${formatFlagsHelp(FLAGS)}
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
