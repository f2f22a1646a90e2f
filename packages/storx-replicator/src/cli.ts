import { ProtocolError } from '@storx-backup/protocol';
import { addressInUse, type CommandContext, lazyCommand, runProgram } from '@storx-backup/service-kit';
import { ReplicatorError } from './errors.js';
import { postgresErrorFix } from './source/postgres-error-fixes.js';

// Each command's module (and its dependencies) is imported only when that command runs.
const COMMANDS = [
  lazyCommand('run', 'stream changes from the slot to the receiver (the service)', async () => (await import('./commands/run.js')).runCommand),
  lazyCommand('setup', 'write the config file (the seed\'s "replication setup")', async () => (await import('./commands/setup.js')).setupCommand),
  lazyCommand('status', 'show wal_level, the slot and its lag, the publication, the receiver and whether replication is blocked; exit 0/1/2', async () => (await import('./commands/status.js')).statusCommand),
  lazyCommand('topology', "one view of both hosts: PostgreSQL roles and standby lag, the slot and the receiver, Redis roles and offsets; exit 0/1/2", async () => (await import('./commands/topology.js')).topologyCommand),
  lazyCommand('doctor', "check the seed's quick checklist item by item, with the fix for each failure", async () => (await import('./commands/doctor.js')).doctorCommand),
  lazyCommand('snapshot', 'copy the existing rows of tables to the receiver (service stopped)', async () => (await import('./commands/snapshot.js')).snapshotCommand),
  lazyCommand('resync', 'copy one table again, replacing its backup (service stopped)', async () => (await import('./commands/snapshot.js')).resyncCommand),
  lazyCommand('verify', 'compare the backup with the source, table by table, while replication runs; exit 0 equal, 1 different', async () => (await import('./commands/verify.js')).verifyCommand),
  lazyCommand('keys generate', 'create the Ed25519 key pair every request is signed with', async () => (await import('./commands/keys-generate.js')).keysGenerateCommand),
];

const PROGRAM = {
  name: 'storx-replicator',
  description: `Streams every committed change of the configured tables from a PostgreSQL logical replication
slot to the backup receiver, encrypted and signed, and acknowledges the slot only up to what the
receiver has durably applied.`,
  commands: COMMANDS,
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
