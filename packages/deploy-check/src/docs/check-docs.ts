import { captureRun } from '@storx-backup/service-kit';
import { repoPath } from '../repo.js';
import { SERVICE_KINDS } from '../services/service-kinds.js';
import { docCommands, docOptionNames } from './doc-references.js';

/**
 * Parts of the snapshot feature (issue #6), which docs/operations.md already describes while it
 * is being built: accepted while the code does not have them, checked like the rest once it does.
 */
const PENDING_COMMANDS = new Set(['storx-replicator snapshot', 'storx-replicator resync']);
const PENDING_OPTIONS = new Set(['replication.initial-snapshot']);

/** Backticked names that look like options but are programs and packages. */
const NOT_OPTIONS = new Set(['storx-replicator', 'backuptools-receiver', 'deploy-check']);

/**
 * Every command line of our programs in the documents is accepted by the real CLI (run with
 * `--help` appended: the command and every flag are parsed, nothing runs), and every option
 * named in a code span is an option of one of the services.
 */
export async function checkDocs(documents: readonly { path: string; text: string }[]): Promise<string[]> {
  const problems: string[] = [];
  const options = new Set(SERVICE_KINDS.flatMap((kind) => kind.options.map((spec) => spec.path)));
  for (const { path, text } of documents) {
    for (const { line, program, argv } of docCommands(text)) {
      const kind = SERVICE_KINDS.find((candidate) => candidate.program === program)!;
      const run = await captureRun(kind.main, [...argv, '--help']);
      const pending = PENDING_COMMANDS.has(`${program} ${argv[0]}`) && run.stderr.startsWith('unknown command');
      if (run.code !== 0 && !pending) problems.push(`${repoPath(path)}:${line}: "${program} ${argv.join(' ')}" is refused: ${(run.stderr || run.stdout).split('\n')[0]}`);
    }
    for (const { line, name } of docOptionNames(text)) {
      const known = options.has(name) || options.has(`replication.${name}`) || NOT_OPTIONS.has(name) || (PENDING_OPTIONS.has(name) && !options.has(name));
      if (!known) problems.push(`${repoPath(path)}:${line}: \`${name}\` is not an option of either service`);
    }
  }
  return problems;
}
