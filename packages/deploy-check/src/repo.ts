import { relative, resolve } from 'node:path';

/** The repository root; every deployment path is checked against this tree. */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');

/** `docker/local/compose.yml`, for messages. */
export function repoPath(path: string): string {
  return relative(REPO_ROOT, path) || '.';
}
