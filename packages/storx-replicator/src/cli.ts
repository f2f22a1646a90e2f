import { ProtocolError } from '@storx-backup/protocol';
import { addressInUse, type CommandContext, runProgram } from '@storx-backup/service-kit';
import { doctorCommand } from './commands/doctor.js';
import { keysGenerateCommand } from './commands/keys-generate.js';
import { runCommand } from './commands/run.js';
import { setupCommand } from './commands/setup.js';
import { resyncCommand, snapshotCommand } from './commands/snapshot.js';
import { statusCommand } from './commands/status.js';
import { topologyCommand } from './commands/topology.js';
import { verifyCommand } from './commands/verify.js';
import { ReplicatorError } from './errors.js';
import { postgresErrorFix } from './source/postgres-error-fixes.js';

const PROGRAM = {
  name: 'storx-replicator',
  description: `Streams every committed change of the configured tables from a PostgreSQL logical replication
slot to the backup receiver, encrypted and signed, and acknowledges the slot only up to what the
receiver has durably applied.`,
  commands: [runCommand, setupCommand, statusCommand, topologyCommand, doctorCommand, snapshotCommand, resyncCommand, verifyCommand, keysGenerateCommand],
  explain: (error: unknown) => {
    if (error instanceof ReplicatorError) return { text: `error: ${error.message}\nfix: ${error.fixLines.join('\n     ')}\n`, code: 1 };
    // A key that does not load is a configuration problem: exit 2 like the others.
    if (error instanceof ProtocolError) return { text: `error: ${error.message}\n`, code: 2 };
    const listening = addressInUse(error, 'replication.metrics-listen (topology: --metrics-listen)');
    if (listening) return { text: listening, code: 1 };
    const fix = postgresErrorFix(error);
    if (fix) {
      const detail = (error as { detail?: string }).detail;
      return { text: `error: ${(error as Error).message}${detail ? ` (${detail.replace(/\.$/, '')})` : ''}\nfix: ${fix.join('\n     ')}\n`, code: 1 };
    }
    return undefined;
  },
};

/** Runs the command line; returns the exit code (errors are printed, never thrown). */
export function main(argv: readonly string[], context?: CommandContext): Promise<number> {
  return runProgram(PROGRAM, argv, context);
}
