import { readFileSync } from 'node:fs';

/** One instruction, its line continuations joined. */
export interface Instruction {
  keyword: string;
  /** Everything after the keyword. */
  args: string;
  line: number;
}

/** A build stage: `FROM image [AS name]` and the instructions up to the next FROM. */
export interface Stage {
  image: string;
  name: string | undefined;
  instructions: readonly Instruction[];
}

export interface Dockerfile {
  path: string;
  stages: readonly Stage[];
}

export function loadDockerfile(path: string): Dockerfile {
  return { path, stages: parseDockerfile(readFileSync(path, 'utf8')) };
}

/**
 * Splits a Dockerfile into stages of instructions. Handles `\` continuations, comments and empty
 * lines (also between continued lines, which BuildKit skips); no heredocs (none here).
 */
export function parseDockerfile(text: string): Stage[] {
  const stages: { image: string; name: string | undefined; instructions: Instruction[] }[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const start = index + 1;
    let continued = line.endsWith('\\');
    let joined = continued ? line.slice(0, -1) : line;
    while (continued && index + 1 < lines.length) {
      index += 1;
      const next = lines[index]!.trim();
      if (next === '' || next.startsWith('#')) continue;
      continued = next.endsWith('\\');
      joined += ` ${continued ? next.slice(0, -1) : next}`;
    }
    const match = /^(\S+)\s*(.*)$/s.exec(joined)!;
    const instruction = { keyword: match[1]!.toUpperCase(), args: match[2]!.replace(/\s+/g, ' ').trim(), line: start };
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(' ').filter((word) => !word.startsWith('--'));
      stages.push({ image: words[0] ?? '', name: words[1]?.toUpperCase() === 'AS' ? words[2] : undefined, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

/** The JSON-array (exec) form of CMD, ENTRYPOINT or HEALTHCHECK CMD, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((item) => typeof item === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Leading `--name=value` flags of an instruction (COPY --from=build, HEALTHCHECK --interval=30s) and the rest. */
export function instructionFlags(args: string): { flags: Map<string, string>; rest: string } {
  const flags = new Map<string, string>();
  let rest = args;
  for (let match = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest); match; match = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest)) {
    flags.set(match[1]!, match[2] ?? '');
    rest = rest.slice(match[0].length);
  }
  return { flags, rest };
}

/** The instructions of a stage with this keyword. */
export function instructions(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword);
}
