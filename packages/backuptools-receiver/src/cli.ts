import { ProtocolError } from '@storx-backup/protocol';
import { addressInUse, type CommandContext, runProgram } from '@storx-backup/service-kit';
import { keysGenerateCommand } from './commands/keys-generate.js';
import { migrateCommand } from './commands/migrate.js';
import { serveCommand } from './commands/serve.js';
import { statusCommand } from './commands/status.js';

const PROGRAM = {
  name: 'backuptools-receiver',
  description: `Receives encrypted, signed change batches from storx-replicator and applies them to the
backup PostgreSQL database.`,
  commands: [serveCommand, statusCommand, migrateCommand, keysGenerateCommand],
  explain: (error: unknown) => {
    // A key that does not load is a configuration problem: exit 2 like the others.
    if (error instanceof ProtocolError) return { text: `error: ${error.message}\n`, code: 2 };
    const listening = addressInUse(error, 'listen-port (or listen-host)');
    return listening === undefined ? undefined : { text: listening, code: 1 };
  },
};

/** Runs the command line; returns the exit code (errors are printed, never thrown). */
export function main(argv: readonly string[], context?: CommandContext): Promise<number> {
  return runProgram(PROGRAM, argv, context);
}
