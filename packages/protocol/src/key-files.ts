import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { PemKeyPair } from './keys.js';

export interface WrittenKeyPair {
  privateKeyPath: string;
  publicKeyPath: string;
}

/**
 * Writes `<name>_private.pem` (mode 0600) and `<name>_public.pem` (0644) into `dir`.
 * Refuses to overwrite an existing file: replacing a key by accident breaks the other host.
 */
export async function writeKeyPair(dir: string, name: string, pair: PemKeyPair): Promise<WrittenKeyPair> {
  await mkdir(dir, { recursive: true });
  const privateKeyPath = join(dir, `${name}_private.pem`);
  const publicKeyPath = join(dir, `${name}_public.pem`);
  await writeNew(privateKeyPath, pair.privateKeyPem, 0o600);
  await writeNew(publicKeyPath, pair.publicKeyPem, 0o644);
  return { privateKeyPath, publicKeyPath };
}

async function writeNew(path: string, contents: string, mode: number): Promise<void> {
  // 'wx' fails with EEXIST rather than overwrite; the mode applies from creation, so the
  // private key is never readable by others, not even for a moment.
  const handle = await open(path, 'wx', mode).catch((cause: NodeJS.ErrnoException) => {
    if (cause.code === 'EEXIST') throw new Error(`${path} already exists; move it away or choose another --out directory`, { cause });
    throw cause;
  });
  try {
    await handle.writeFile(contents, 'utf8');
  } finally {
    await handle.close();
  }
}
