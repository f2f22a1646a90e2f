import { existsSync, readFileSync } from 'node:fs';

/** One line of a .dockerignore: a glob relative to the build context, maybe re-including (`!`). */
interface IgnoreRule {
  pattern: RegExp;
  include: boolean;
}

/** Reads a .dockerignore (none: nothing is ignored). */
export function loadDockerignore(path: string): DockerIgnore {
  return new DockerIgnore(existsSync(path) ? readFileSync(path, 'utf8') : '');
}

/**
 * Docker's .dockerignore rules: globs with `*`, `?` and `**`, relative to the context root; a
 * pattern that matches a directory excludes everything under it; the last matching line wins,
 * and `!` lines re-include.
 */
export class DockerIgnore {
  private readonly rules: IgnoreRule[];

  constructor(text: string) {
    this.rules = text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => {
        const include = line.startsWith('!');
        const glob = (include ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, '');
        return { pattern: globToRegExp(glob), include };
      });
  }

  /** Whether a context-relative path (`packages/protocol/src`) is left out of the build context. */
  ignores(path: string): boolean {
    const parts = path.split('/');
    const candidates = parts.map((_, index) => parts.slice(0, index + 1).join('/'));
    let ignored = false;
    for (const rule of this.rules) {
      if (candidates.some((candidate) => rule.pattern.test(candidate))) ignored = !rule.include;
    }
    return ignored;
  }
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let index = 0; index < glob.length; index += 1) {
    const char = glob[index]!;
    if (glob.startsWith('**/', index)) {
      source += '(?:.*/)?';
      index += 2;
    } else if (glob.startsWith('**', index)) {
      source += '.*';
      index += 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
