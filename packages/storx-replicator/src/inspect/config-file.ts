import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Thrown when the file exists and overwriting was not asked for. */
export class ConfigFileExistsError extends Error {
  override readonly name = 'ConfigFileExistsError';
}

/**
 * Writes the config file with mode 0600 from the first byte (it holds the database password):
 * into a temporary file next to it, then linked into place (refusing an existing file, with no
 * window between check and write) or, with `overwrite`, renamed over it. Parent directories
 * are created (0700).
 */
export async function writeConfigFile(path: string, text: string, overwrite: boolean): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    // The umask can only remove bits; this makes the mode exactly 0600 whatever it is.
    await handle.chmod(0o600);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (overwrite) {
      await rename(temporary, path);
      return;
    }
    await link(temporary, path).catch((cause: NodeJS.ErrnoException) => {
      if (cause.code === 'EEXIST') throw new ConfigFileExistsError(`${path} already exists; run setup again with --force to overwrite it, or edit it`, { cause });
      throw cause;
    });
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}
