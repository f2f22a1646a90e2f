import { ConfigError, UsageError } from '@storx-backup/service-kit';
import { ProtocolError } from '@storx-backup/protocol';
import type { Command, CommandContext } from './commands/command.js';
import { keysGenerateCommand } from './commands/keys-generate.js';
import { migrateCommand } from './commands/migrate.js';
import { serveCommand } from './commands/serve.js';
import { statusCommand } from './commands/status.js';

const COMMANDS: readonly Command[] = [serveCommand, statusCommand, migrateCommand, keysGenerateCommand];

function usage(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return `Usage: backuptools-receiver <command> [options]

Receives encrypted, signed change batches from storx-replicator and applies them to the
backup PostgreSQL database.

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`).join('\n')}

Run "backuptools-receiver <command> --help" for a command's options.
`;
}

/** Runs the command line; returns the exit code (errors are printed, never thrown). */
export async function main(argv: readonly string[], context: CommandContext = defaultContext()): Promise<number> {
  const [first, second, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    context.stdout(usage());
    return first === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === first) ?? COMMANDS.find((candidate) => candidate.name === `${first} ${second ?? ''}`);
  if (!command) {
    context.stderr(`unknown command ${JSON.stringify([first, second].filter(Boolean).join(' '))}\n\n${usage()}`);
    return 2;
  }
  const args = command.name.includes(' ') ? rest : argv.slice(1);
  try {
    return await command.run(args, context);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof ProtocolError) {
      context.stderr(`error: ${error.message}\n`);
      return 2;
    }
    context.stderr(`error: ${(error as Error).message ?? String(error)}\n`);
    return 1;
  }
}

function defaultContext(): CommandContext {
  return {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  };
}
