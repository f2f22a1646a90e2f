import { chmod, mkdir, open } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { PemKeyPair } from './keys.js';

export interface WrittenKeyPair {
  privateKeyPath: string;
  publicKeyPath: string;
}

/**
 * Writes `<name>_private.pem` (mode 0600) and `<name>_public.pem` (0644) into `dir`, creating
 * `dir` (and missing parents) mode 0700 whatever the umask. Refuses to overwrite an existing
 * file: replacing a key by accident breaks the other host. An existing `dir` keeps its mode.
 */
export async function writeKeyPair(dir: string, name: string, pair: PemKeyPair): Promise<WrittenKeyPair> {
  await makePrivateDirectory(dir);
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

/**
 * mkdir's mode is filtered by the umask (and a umask of 000 used to leave key directories
 * 0777 with the old default mode): every directory created here is set to 0700 explicitly.
 */
async function makePrivateDirectory(dir: string): Promise<void> {
  const firstCreated = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (firstCreated === undefined) return;
  const top = resolve(firstCreated);
  for (let current = resolve(dir); ; current = dirname(current)) {
    await chmod(current, 0o700);
    if (current === top || dirname(current) === current) break;
  }
}
