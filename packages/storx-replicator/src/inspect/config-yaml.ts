import type { OptionSpec } from '@storx-backup/service-kit';

/** What setup writes besides the options given: the ones the seed's example file shows. */
export const SEED_DOCUMENTED = ['replication.slot-name', 'replication.publication-name', 'replication.tables'];

/**
 * The config file in the seed's layout: `database:` at the top, then a `replication:` mapping
 * with the kebab-case keys, in the order of the option list. Values are written as given on
 * the command line (`5s`, not 5000) so the file reads like what the operator typed; strings
 * are JSON-quoted, which YAML reads as double-quoted scalars.
 */
export function renderConfigYaml(specs: readonly OptionSpec[], given: ReadonlyMap<string, string>): string {
  const top: string[] = [];
  const replication: string[] = [];
  for (const spec of specs) {
    const raw = given.get(spec.path);
    let value: string | undefined;
    if (raw !== undefined) value = renderValue(spec, raw);
    else if (SEED_DOCUMENTED.includes(spec.path) && spec.default !== undefined) value = renderDefault(spec.default);
    if (value === undefined) continue;
    const [group, key] = spec.path.startsWith('replication.') ? [replication, spec.path.slice('replication.'.length)] : [top, spec.path];
    group.push(`${group === replication ? '  ' : ''}${key}:${value}`);
  }
  return [
    '# storx-replicator configuration, written by "storx-replicator setup".',
    '# It holds the database password: keep it mode 0600. Every option: storx-replicator run --help',
    ...top,
    '',
    'replication:',
    ...replication,
    '',
  ].join('\n');
}

/** ` "text"`, ` 3`, or a block sequence (`\n    - "objects"`), ready to follow `key:`. */
function renderValue(spec: OptionSpec, raw: string): string {
  switch (spec.kind.type) {
    case 'list':
      return renderDefault(raw.split(',').map((item) => item.trim()));
    case 'integer':
      return /^-?\d+$/.test(raw.trim()) ? ` ${raw.trim()}` : ` ${JSON.stringify(raw)}`;
    default:
      return ` ${JSON.stringify(raw)}`;
  }
}

function renderDefault(value: unknown): string {
  if (Array.isArray(value)) return value.map((item) => `\n    - ${JSON.stringify(item)}`).join('');
  return ` ${JSON.stringify(value)}`;
}
