import { type DecryptionKey, loadRsaPrivateKey, loadVerifyingKey, type TrustedKey } from '@storx-backup/protocol';

/** Loads the configured RSA private keys and trusted sender keys; any failure names the file. */
export async function loadReceiverKeys(privateKeyPaths: readonly string[], trustedSenderKeyPaths: readonly string[]): Promise<{ decryptionKeys: DecryptionKey[]; trustedKeys: TrustedKey[] }> {
  const decryptionKeys = await Promise.all(privateKeyPaths.map((path) => loadRsaPrivateKey(path)));
  const trustedKeys = await Promise.all(trustedSenderKeyPaths.map((path) => loadVerifyingKey(path)));
  return { decryptionKeys, trustedKeys };
}
