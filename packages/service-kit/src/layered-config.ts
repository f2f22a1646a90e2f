import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { parse } from 'yaml';
import { envName, type OptionSpec, readOptionValue } from './option-spec.js';

/** Where an option's value came from, for error messages and `--print-config`. */
export type ValueSource =
  | { kind: 'default' }
  | { kind: 'file'; file: string }
  | { kind: 'env'; name: string }
  | { kind: 'flag'; flag: string };

export interface LayeredConfig {
  /** Parsed value per option path; absent when the option has no value and no default. */
  values: ReadonlyMap<string, unknown>;
  sources: ReadonlyMap<string, ValueSource>;
}

export interface LoadInput {
  specs: readonly OptionSpec[];
  /** Prefix of environment variables, for example `STORX_`. */
  envPrefix: string;
  env: NodeJS.ProcessEnv;
  /** Flag values by option path (already split from argv). */
  flags: ReadonlyMap<string, string>;
  /** The YAML file, if any. `required` files must exist. */
  file?: { path: string; required: boolean };
}

/** Every problem found, each naming the option and where its value came from. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/**
 * Resolves every option: flags over environment over file over defaults. Validates all of them
 * at once and throws one ConfigError listing every problem (an operator fixes them in one go).
 * Unknown keys in the file are errors: a misspelt `max-retires` must not silently mean "default".
 */
export function loadLayeredConfig(input: LoadInput): LayeredConfig {
  const problems: string[] = [];
  const fileValues = input.file ? readConfigFile(input.file.path, input.file.required, input.specs, problems) : new Map<string, unknown>();
  const values = new Map<string, unknown>();
  const sources = new Map<string, ValueSource>();

  for (const spec of input.specs) {
    const env = envName(input.envPrefix, spec.path);
    const candidates: [unknown, ValueSource][] = [];
    if (input.flags.has(spec.path)) candidates.push([input.flags.get(spec.path), { kind: 'flag', flag: `--${spec.path}` }]);
    else if (input.env[env] !== undefined && input.env[env] !== '') candidates.push([input.env[env], { kind: 'env', name: env }]);
    else if (fileValues.has(spec.path)) candidates.push([fileValues.get(spec.path), { kind: 'file', file: input.file!.path }]);

    const [raw, source] = candidates[0] ?? [undefined, undefined];
    if (source === undefined) {
      if (spec.default !== undefined) {
        values.set(spec.path, spec.default);
        sources.set(spec.path, { kind: 'default' });
      } else if (spec.required) {
        problems.push(`${spec.path} is required: set it in the config file, as ${env}, or with --${spec.path}`);
      }
      continue;
    }
    try {
      values.set(spec.path, readOptionValue(spec.kind, raw));
      sources.set(spec.path, source);
    } catch (error) {
      problems.push(`${spec.path} (from ${describeSource(source)}): ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { values, sources };
}

export function describeSource(source: ValueSource): string {
  switch (source.kind) {
    case 'default':
      return 'the default';
    case 'file':
      return `config file ${source.file}`;
    case 'env':
      return `environment variable ${source.name}`;
    case 'flag':
      return `flag ${source.flag}`;
  }
}

function readConfigFile(path: string, required: boolean, specs: readonly OptionSpec[], problems: string[]): Map<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !required) return new Map();
    problems.push(`config file ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    return new Map();
  }
  let document: unknown;
  try {
    document = parseYaml()(text);
  } catch (error) {
    problems.push(`config file ${path} is not valid YAML: ${(error as Error).message}`);
    return new Map();
  }
  const flat = new Map<string, unknown>();
  if (document === null || document === undefined) return flat;
  if (typeof document !== 'object' || Array.isArray(document)) {
    problems.push(`config file ${path} must be a YAML mapping of options`);
    return flat;
  }
  const known = new Set(specs.map((spec) => spec.path));
  const groups = new Set(specs.flatMap((spec) => prefixes(spec.path)));
  flatten(document as Record<string, unknown>, '', flat, known, groups, (key) => {
    const hint = closest(key, [...known]);
    problems.push(`config file ${path}: unknown option ${JSON.stringify(key)}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}`);
  });
  return flat;
}

/** Walks nested mappings down to known option paths (`replication: { webhook-url }` → `replication.webhook-url`). */
function flatten(
  node: Record<string, unknown>,
  prefix: string,
  out: Map<string, unknown>,
  known: ReadonlySet<string>,
  groups: ReadonlySet<string>,
  unknown: (key: string) => void,
): void {
  for (const [key, value] of Object.entries(node)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (known.has(path)) out.set(path, value);
    else if (groups.has(path) && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      flatten(value as Record<string, unknown>, path, out, known, groups, unknown);
    } else unknown(path);
  }
}

function prefixes(path: string): string[] {
  const parts = path.split('.');
  return parts.slice(1).map((_, index) => parts.slice(0, index + 1).join('.'));
}

function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3; // suggest only near misses
  for (const candidate of candidates) {
    const distance = editDistance(key, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/**
 * The YAML parser, loaded on the first config file actually read: importing `yaml` costs ~0.1 s
 * of CPU at every start (docs/benchmark.md), and a command without a config file never needs it.
 * `require` keeps config loading synchronous.
 */
function parseYaml(): typeof parse {
  return (createRequire(import.meta.url)('yaml') as { parse: typeof parse }).parse;
}
