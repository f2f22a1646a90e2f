import { envName, type OptionSpec } from './option-spec.js';
import { formatDuration, formatSize } from './units.js';

/**
 * The options as a Markdown table (option, flag, environment variable, default, meaning), for
 * docs/configuration.md. Each service's tests check that the document holds exactly this table,
 * so the reference cannot drift from the code.
 */
export function formatOptionsMarkdown(specs: readonly OptionSpec[], envPrefix: string): string {
  const rows = specs.map((spec) => `| \`${spec.path}\` | \`--${spec.path}\` | \`${envName(envPrefix, spec.path)}\` | ${defaultCell(spec)} | ${spec.description.replaceAll('|', '\\|')} |`);
  return ['| option | flag | environment | default | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

function defaultCell(spec: OptionSpec): string {
  if (spec.required) return '**required**';
  const value = spec.default;
  if (value === undefined) return '(none)';
  switch (spec.kind.type) {
    case 'duration':
      return `\`${formatDuration(value as number)}\``;
    case 'size':
      return `\`${formatSize(value as number)}\``;
    case 'list':
      return (value as string[]).length === 0 ? '(none)' : `\`${(value as string[]).join(', ')}\``;
    default:
      return value === '' ? '(empty: off)' : `\`${typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value)}\``;
  }
}
