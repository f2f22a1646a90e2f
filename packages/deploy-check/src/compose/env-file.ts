import { existsSync, readFileSync } from 'node:fs';

/**
 * The variables of a `.env.example` (KEY=VALUE lines, `#` comments): what an operator copies to
 * `.env`, so the values compose would substitute. No file: no variables.
 */
export function readEnvExample(path: string): Map<string, string> {
  const variables = new Map<string, string>();
  if (!existsSync(path)) return variables;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^\s*([A-Za-z_]\w*)=(.*)$/.exec(line);
    if (match) variables.set(match[1]!, match[2]!.trim().replace(/^(['"])(.*)\1$/, '$2'));
  }
  return variables;
}
