import { parseDuration, parseSize } from './units.js';

/** How an option's text (from the environment or a flag) or YAML value is read. */
export type OptionKind =
  | { type: 'string' }
  | { type: 'integer'; min?: number; max?: number }
  | { type: 'boolean' }
  | { type: 'duration'; min?: number }
  | { type: 'size'; min?: number; max?: number }
  | { type: 'list' }
  | { type: 'enum'; values: readonly string[] };

/** One configuration option, known by the same dotted path in the file, the environment and flags. */
export interface OptionSpec {
  /** As in the YAML file and as the flag: `replication.webhook-url` ↔ `--replication.webhook-url`. */
  path: string;
  kind: OptionKind;
  description: string;
  /** Already in its parsed form (milliseconds, bytes, string[] ...). */
  default?: unknown;
  required?: boolean;
  /** Where it is a secret (a database URL with a password): never print its value. */
  secret?: boolean;
}

/** The environment variable of an option: prefix + path, upper case, `.` and `-` as `_`. */
export function envName(prefix: string, path: string): string {
  return `${prefix}${path.replace(/[.-]/g, '_').toUpperCase()}`;
}

/**
 * Reads one value. Text (environment, flags) and YAML values go through the same rules; a
 * YAML number or boolean is accepted where the kind is numeric or boolean.
 */
export function readOptionValue(kind: OptionKind, raw: unknown): unknown {
  switch (kind.type) {
    case 'string':
      if (typeof raw !== 'string' || raw === '') throw new Error('expected a non-empty string');
      return raw;
    case 'integer': {
      const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
      if (!Number.isSafeInteger(value)) throw new Error(`expected a whole number, got ${JSON.stringify(raw)}`);
      if (kind.min !== undefined && value < kind.min) throw new Error(`must be at least ${kind.min}, got ${value}`);
      if (kind.max !== undefined && value > kind.max) throw new Error(`must be at most ${kind.max}, got ${value}`);
      return value;
    }
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(true|1|yes|on)$/i.test(raw)) return true;
      if (typeof raw === 'string' && /^(false|0|no|off)$/i.test(raw)) return false;
      throw new Error(`expected true or false, got ${JSON.stringify(raw)}`);
    case 'duration': {
      if (typeof raw !== 'string') throw new Error(`expected a duration with a unit such as "5s", got ${JSON.stringify(raw)}`);
      const ms = parseDuration(raw);
      if (kind.min !== undefined && ms < kind.min) throw new Error(`must be at least ${kind.min}ms, got ${raw}`);
      return ms;
    }
    case 'size': {
      if (typeof raw !== 'string') throw new Error(`expected a size with a unit such as "4MiB", got ${JSON.stringify(raw)}`);
      const bytes = parseSize(raw);
      if (kind.min !== undefined && bytes < kind.min) throw new Error(`must be at least ${kind.min} bytes, got ${raw}`);
      if (kind.max !== undefined && bytes > kind.max) throw new Error(`must be at most ${kind.max} bytes, got ${raw}`);
      return bytes;
    }
    case 'list': {
      const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').map((item) => item.trim()) : undefined;
      if (!items?.every((item): item is string => typeof item === 'string' && item !== '')) {
        throw new Error(`expected a list of non-empty strings (in the environment or a flag: comma-separated), got ${JSON.stringify(raw)}`);
      }
      return items;
    }
    case 'enum':
      if (typeof raw !== 'string' || !kind.values.includes(raw)) throw new Error(`expected one of ${kind.values.join(', ')}, got ${JSON.stringify(raw)}`);
      return raw;
  }
}
