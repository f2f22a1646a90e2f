import { ConfigError } from './layered-config.js';
import { UsageError } from './command-line.js';

/** What a command needs from the outside world; tests pass their own. */
export interface CommandContext {
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export interface Command {
  /** One word, or two for a sub-command (`keys generate`). */
  name: string;
  summary: string;
  /** Returns the process exit code. */
  run(argv: readonly string[], context: CommandContext): Promise<number>;
}

export interface Program {
  name: string;
  description: string;
  commands: readonly Command[];
  /**
   * Turns an error a command threw into what to print and the exit code, or undefined for the
   * default: usage and configuration errors exit 2, anything else 1.
   */
  explain?: (error: unknown) => { text: string; code: number } | undefined;
}

/**
 * A command whose module is imported only when it runs, so `--help` and every other command do
 * not pay for its dependencies (pg, Fastify, Kysely: most of a start's CPU, docs/benchmark.md).
 * The name and summary are what `--help` lists; the loaded module must agree with them.
 */
export function lazyCommand(name: string, summary: string, load: () => Promise<Command>): Command {
  return {
    name,
    summary,
    async run(argv, context) {
      const command = await load();
      if (command.name !== name || command.summary !== summary) throw new Error(`the command list says ${JSON.stringify(`${name}: ${summary}`)} but its module says ${JSON.stringify(`${command.name}: ${command.summary}`)}: make them agree`);
      return command.run(argv, context);
    },
  };
}

/** Finds and runs the command; prints errors (never throws) and returns the exit code. */
export async function runProgram(program: Program, argv: readonly string[], context: CommandContext = processContext()): Promise<number> {
  const [first, second, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    context.stdout(usage(program));
    return first === undefined ? 2 : 0;
  }
  const command = program.commands.find((candidate) => candidate.name === first) ?? program.commands.find((candidate) => candidate.name === `${first} ${second ?? ''}`);
  if (!command) {
    // `keys`, `keys --help`: the group of a two-word command lists its sub-commands.
    const group = program.commands.filter((candidate) => candidate.name.startsWith(`${first} `));
    const asksHelp = second === '--help' || second === '-h';
    if (group.length > 0 && (second === undefined || asksHelp)) {
      (asksHelp ? context.stdout : context.stderr)(`Usage: ${program.name} ${first} <sub-command> [options]\n\n${commandList(group)}\n\nRun "${program.name} ${group[0]!.name} --help" for its options.\n`);
      return asksHelp ? 0 : 2;
    }
    // One line: what was not understood and what exists; the full usage is one --help away.
    const unknown = [first, group.length > 0 ? second : undefined].filter(Boolean).join(' ');
    context.stderr(`unknown command ${JSON.stringify(unknown)}: ${program.name} has ${program.commands.map((candidate) => candidate.name).join(', ')} (see "${program.name} --help")\n`);
    return 2;
  }
  try {
    return await command.run(command.name.includes(' ') ? rest : argv.slice(1), context);
  } catch (error) {
    const explained = program.explain?.(error);
    if (explained) {
      context.stderr(explained.text);
      return explained.code;
    }
    context.stderr(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof UsageError || error instanceof ConfigError ? 2 : 1;
  }
}

function commandList(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`).join('\n');
}

function usage(program: Program): string {
  return `Usage: ${program.name} <command> [options]

${program.description}

Commands:
${commandList(program.commands)}

Run "${program.name} <command> --help" for a command's options.
`;
}

function processContext(): CommandContext {
  return {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  };
}

/** What a command line printed and returned, for tests. */
export interface CapturedRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `main` with an in-memory context and the given environment. */
export async function captureRun(main: (argv: readonly string[], context: CommandContext) => Promise<number>, argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CapturedRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { env, stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
  return { code, stdout, stderr };
}
