import { readFile } from 'node:fs/promises';
import { loadRsaPublicKey, loadSigningKey, type LoadedKey } from '@storx-backup/protocol';

export interface ReplicatorKeys {
  recipient: LoadedKey;
  signing: LoadedKey;
  ca: Buffer | undefined;
}

/** Loads the receiver's public key, our signing key and the optional CA; failures name the file. */
export async function loadReplicatorKeys(paths: { webhookPublicKeyPath: string; signingKeyPath: string; webhookCaPath: string | undefined }): Promise<ReplicatorKeys> {
  const [recipient, signing] = await Promise.all([loadRsaPublicKey(paths.webhookPublicKeyPath), loadSigningKey(paths.signingKeyPath)]);
  let ca: Buffer | undefined;
  if (paths.webhookCaPath !== undefined) {
    try {
      ca = await readFile(paths.webhookCaPath);
    } catch (cause) {
      throw new Error(`failed to load webhook CA: cannot read ${paths.webhookCaPath} (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause });
    }
  }
  return { recipient, signing, ca };
}
