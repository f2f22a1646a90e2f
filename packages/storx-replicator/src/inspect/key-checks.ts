import { readFile } from 'node:fs/promises';
import { type LoadedKey, loadRsaPublicKey, loadSigningKey } from '@storx-backup/protocol';
import type { ReplicatorConfig } from '../config.js';
import type { ReplicatorKeys } from '../replicator-keys.js';
import { type ChecklistItem, failed, passed } from './checklist-item.js';
import { PUBLIC_KEY_FIX } from './seed-fixes.js';

const SIGNING_KEY_FIX = [
  'Verify signing key file exists',
  "Check file permissions (readable by the replicator's user; mode 0600)",
  'Ensure PEM format (starts with -----BEGIN PRIVATE KEY-----): the Ed25519 key "storx-replicator keys generate" writes',
];

/**
 * The StorXMonitor keys of the checklist, each on its own so that both are reported: the
 * receiver's RSA public key (the seed's "RSA public key file exists"), our Ed25519 signing key
 * and, when configured, the receiver's CA. Returns the keys when all of them loaded.
 */
export async function checkKeys(config: ReplicatorConfig): Promise<{ items: ChecklistItem[]; keys: ReplicatorKeys | undefined }> {
  const items: ChecklistItem[] = [];
  const recipient = await checkKey(
    items,
    'RSA public key',
    'replication.webhook-public-key',
    config.webhookPublicKeyPath,
    loadRsaPublicKey,
    PUBLIC_KEY_FIX,
    ["set replication.webhook-public-key to the receiver's public key file (backuptools_public.pem)"],
  );
  const signing = await checkKey(
    items,
    'signing key',
    'replication.signing-key',
    config.signingKeyPath,
    loadSigningKey,
    SIGNING_KEY_FIX,
    ['storx-replicator keys generate --out DIR; set replication.signing-key to DIR/storx_signing_private.pem and list DIR/storx_signing_public.pem in the receiver\'s trusted-sender-keys'],
  );
  let ca: Buffer | undefined;
  let caLoaded = true;
  if (config.webhookCaPath !== undefined) {
    try {
      ca = await readFile(config.webhookCaPath);
      items.push(passed('StorXMonitor', `webhook CA loads: ${config.webhookCaPath}`));
    } catch (error) {
      caLoaded = false;
      items.push(failed('StorXMonitor', `webhook CA loads: cannot read ${config.webhookCaPath} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, ['Verify the CA file exists and is readable (PEM, starts with -----BEGIN CERTIFICATE-----)']));
    }
  }
  return { items, keys: recipient && signing && caLoaded ? { recipient, signing, ca } : undefined };
}

async function checkKey(
  items: ChecklistItem[],
  what: string,
  option: string,
  path: string,
  load: (path: string) => Promise<LoadedKey>,
  fix: readonly string[],
  unsetFix: readonly string[],
): Promise<LoadedKey | undefined> {
  if (path === '') {
    items.push(failed('StorXMonitor', `${what} loads: ${option} is not set`, unsetFix));
    return undefined;
  }
  try {
    const key = await load(path);
    const bits = key.key.asymmetricKeyDetails?.modulusLength;
    items.push(passed('StorXMonitor', `${what} loads: ${path} (${bits === undefined ? key.key.asymmetricKeyType : `RSA ${bits} bits`}, kid ${key.kid})`));
    return key;
  } catch (error) {
    // The loader's message starts with the seed's "failed to load public key" and names the file.
    items.push(failed('StorXMonitor', `${what} loads: ${(error as Error).message}`, fix));
    return undefined;
  }
}
