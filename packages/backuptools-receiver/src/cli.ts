import { ProtocolError } from '@storx-backup/protocol';
import { addressInUse, type CommandContext, lazyCommand, runProgram } from '@storx-backup/service-kit';

// Each command's module (and its dependencies) is imported only when that command runs.
const COMMANDS = [
  lazyCommand('serve', 'receive, verify, decrypt and apply batches (POST /webhook)', async () => (await import('./commands/serve.js')).serveCommand),
  lazyCommand('status', 'per source: watermark, last apply, applied counts (exit 0 ok, 1 warning, 2 error)', async () => (await import('./commands/status.js')).statusCommand),
  lazyCommand('migrate', "create the receiver's state schema (serve does this too)", async () => (await import('./commands/migrate.js')).migrateCommand),
  lazyCommand('keys generate', 'create the RSA key pair batches are encrypted to', async () => (await import('./commands/keys-generate.js')).keysGenerateCommand),
];

const PROGRAM = {
  name: 'backuptools-receiver',
  description: `Receives encrypted, signed change batches from storx-replicator and applies them to the
backup PostgreSQL database.`,
  commands: COMMANDS,
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
