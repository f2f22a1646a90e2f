import { shellWords } from '../compose/shell-words.js';

/** A command line of one of our programs, as a document shows it. */
export interface DocCommand {
  line: number;
  program: string;
  argv: string[];
}

const PROGRAMS = ['storx-replicator', 'backuptools-receiver'];
/** Compose services whose entrypoint is the program: `docker compose run --rm replicator doctor`. */
const SERVICES: Readonly<Record<string, string>> = { replicator: 'storx-replicator', receiver: 'backuptools-receiver' };
const SEPARATORS = new Set(['|', '||', '&&', ';', '>', '<', '\\']);

/**
 * The pieces of a Markdown document that are code: every line of a fenced block (`\`
 * continuations joined, `#` comments cut) and every inline `code span`, with their line numbers.
 */
export function codeSegments(markdown: string): { line: number; text: string }[] {
  const segments: { line: number; text: string }[] = [];
  const lines = markdown.split('\n');
  let fenced = false;
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index]!;
    if (line.trimStart().startsWith('```')) {
      fenced = !fenced;
      continue;
    }
    if (!fenced) {
      for (const match of line.matchAll(/`([^`]+)`/g)) segments.push({ line: index + 1, text: match[1]! });
      continue;
    }
    let text = line;
    const start = index + 1;
    while (text.trimEnd().endsWith('\\') && index + 1 < lines.length) text = `${text.trimEnd().slice(0, -1)} ${lines[++index]!.trim()}`;
    segments.push({ line: start, text: text.replace(/(^|\s)#.*$/, '') });
  }
  return segments;
}

/**
 * Every call of our programs in the code of a document: `storx-replicator status`,
 * `docker compose exec replicator storx-replicator status`, `docker compose run --rm replicator
 * doctor`, `docker run --rm storx-backup/storx-replicator doctor --help`. Optional parts in
 * brackets (`[--tables a,b]`) count as given.
 */
export function docCommands(markdown: string): DocCommand[] {
  const commands: DocCommand[] = [];
  for (const { line, text } of codeSegments(markdown)) {
    const words = shellWords(text).map((word) => word.replace(/^\[|\]$/g, ''));
    for (let index = 0; index < words.length; index += 1) {
      const word = words[index]!;
      const image = words[index - 1] !== '-t' ? PROGRAMS.find((program) => word.startsWith('storx-backup/') && word.split(':')[0] === `storx-backup/${program}`) : undefined;
      const service = words[index - 2] === 'run' && words[index - 1] === '--rm' ? SERVICES[word] : undefined;
      const program = PROGRAMS.includes(word) ? word : (image ?? service);
      if (program === undefined) continue;
      const end = words.findIndex((candidate, at) => at > index && SEPARATORS.has(candidate));
      const argv = words.slice(index + 1, end < 0 ? undefined : end);
      if (argv.length > 0) commands.push({ line, program, argv });
    }
  }
  return commands;
}

/** Inline code spans that name an option: `replication.signing-key`, `trusted-sender-keys`. */
export function docOptionNames(markdown: string): { line: number; name: string }[] {
  return codeSegments(markdown)
    .filter(({ text }) => /^(?:replication\.)?[a-z]+(?:-[a-z0-9]+)+$/.test(text) || /^replication\.[a-z-]+$/.test(text))
    .map(({ line, text }) => ({ line, name: text }));
}
