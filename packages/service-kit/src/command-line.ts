import { parseArgs } from 'node:util';
import { envName, type OptionSpec } from './option-spec.js';
import { formatDuration, formatSize } from './units.js';

/** A flag of a command that is not a configuration option (`--config`, `--json`, `--out`). */
export interface CommandFlag {
  type: 'string' | 'boolean';
  description: string;
  short?: string;
}

export interface ParsedCommandLine {
  /** Values of configuration options given as flags, by option path. */
  options: Map<string, string>;
  flags: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Thrown for an unknown flag or a missing value; the message says what to run for help. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Splits argv into configuration options (`--replication.webhook-url URL` or `=URL`) and
 * command flags. Unknown flags are errors: a mistyped flag must not be silently ignored.
 */
export function parseCommandLine(argv: readonly string[], specs: readonly OptionSpec[], flags: Readonly<Record<string, CommandFlag>>, command: string): ParsedCommandLine {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const spec of specs) options[spec.path] = { type: 'string' };
  for (const [name, flag] of Object.entries(flags)) options[name] = flag.short === undefined ? { type: flag.type } : { type: flag.type, short: flag.short };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(`${usageProblem(error as Error & { code?: string }, Object.keys(options))}. Run "${command} --help" for the options.`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const result: ParsedCommandLine = { options: new Map(), flags: {}, positionals: parsed.positionals };
  for (const spec of specs) {
    const value = values[spec.path];
    if (typeof value === 'string') result.options.set(spec.path, value);
  }
  for (const name of Object.keys(flags)) result.flags[name] = values[name];
  return result;
}

/**
 * node:util's parseArgs messages in our words, one line: "Unknown option '--x'. To specify a
 * positional argument starting with a '-', place it at the end..." helps nobody; the flag it
 * probably meant does (`--slot-name` → `--replication.slot-name`).
 */
function usageProblem(error: Error & { code?: string }, known: readonly string[]): string {
  const flag = /'(-{1,2}[^' ]+)/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const name = flag?.replace(/^-+/, '').replace(/=.*$/, '') ?? '';
      const meant = known.find((candidate) => candidate.endsWith(`.${name}`) || candidate === name.replace(/^replication\./, ''));
      return `unknown flag ${flag ?? ''}${meant === undefined ? '' : ` (did you mean --${meant}?)`}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(error.message) ? `${flag ?? 'the flag'} needs a value` : `${flag ?? 'the flag'} takes no value`;
    default:
      return error.message.split('\n')[0]!.replace(/\.$/, '');
  }
}

/** `--help` text for configuration options: flag, kind, default, environment variable. */
export function formatOptionsHelp(specs: readonly OptionSpec[], envPrefix: string): string {
  return specs
    .map((spec) => {
      // A description may say its default in words ("(default: the database name)"): that is the default shown.
      const worded = /^(.*?)\s*\(default:? ([^()]*)\)$/.exec(spec.description);
      const description = worded?.[1] ?? spec.description;
      const fallback = worded ? `default: ${worded[2]}` : defaultText(spec);
      const details = [spec.required ? 'required' : fallback, `env ${envName(envPrefix, spec.path)}`].filter(Boolean).join('; ');
      return `  --${spec.path} <${kindText(spec)}>\n      ${description} (${details})`;
    })
    .join('\n');
}

/** `--help` text for command flags. */
export function formatFlagsHelp(flags: Readonly<Record<string, CommandFlag>>): string {
  return Object.entries(flags)
    .map(([name, flag]) => `  ${flag.short ? `-${flag.short}, ` : ''}--${name}${flag.type === 'string' ? ' <value>' : ''}\n      ${flag.description}`)
    .join('\n');
}

function kindText(spec: OptionSpec): string {
  switch (spec.kind.type) {
    case 'enum':
      return spec.kind.values.join('|');
    case 'list':
      return 'a,b,...';
    default:
      return spec.kind.type;
  }
}

function defaultText(spec: OptionSpec): string {
  if (spec.default === undefined) return '';
  if (spec.secret) return 'default: set';
  switch (spec.kind.type) {
    case 'duration':
      return `default ${formatDuration(spec.default as number)}`;
    case 'size':
      return `default ${formatSize(spec.default as number)}`;
    case 'list':
      return (spec.default as string[]).length === 0 ? 'default: none' : `default ${(spec.default as string[]).join(',')}`;
    default: {
      const value = spec.default;
      if (value === '') return 'default: empty';
      return `default ${typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value)}`;
    }
  }
}
