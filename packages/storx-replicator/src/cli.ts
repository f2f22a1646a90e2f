import { ProtocolError } from '@storx-backup/protocol';
import { ConfigError, UsageError } from '@storx-backup/service-kit';
import type { Command, CommandContext } from './commands/command.js';
import { keysGenerateCommand } from './commands/keys-generate.js';
import { doctorCommand } from './commands/doctor.js';
import { runCommand } from './commands/run.js';
import { setupCommand } from './commands/setup.js';
import { statusCommand } from './commands/status.js';
import { ReplicatorError } from './errors.js';

const COMMANDS: readonly Command[] = [runCommand, setupCommand, statusCommand, doctorCommand, keysGenerateCommand];

function usage(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return `Usage: storx-replicator <command> [options]

Streams every committed change of the configured tables from a PostgreSQL logical replication
slot to the backup receiver, encrypted and signed, and acknowledges the slot only up to what the
receiver has durably applied.

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`).join('\n')}

Run "storx-replicator <command> --help" for a command's options.
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
    if (error instanceof ReplicatorError) {
      context.stderr(`error: ${error.message}\nfix: ${error.fix}\n`);
      return 1;
    }
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
