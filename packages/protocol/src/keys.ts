import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ProtocolError } from './errors.js';

/** RFC 7638 JWK thumbprint (base64url SHA-256) of a public key: the `kid` of v2 envelopes. */
export type KeyId = string & { readonly __brand: 'KeyId' };

/** RSA keys below this size are refused (the seed: "use 2048-bit or higher"). */
export const MIN_RSA_BITS = 2048;
/** Default size of generated RSA keys. */
export const DEFAULT_RSA_BITS = 3072;

export interface LoadedKey {
  key: KeyObject;
  /** Thumbprint of the public half. */
  kid: KeyId;
  path: string;
}

const PUBLIC_PEM_HINT = 'the file must be PEM starting with -----BEGIN PUBLIC KEY-----; check that it exists and is readable';
const PRIVATE_PEM_HINT = 'the file must be PEM starting with -----BEGIN PRIVATE KEY----- (or -----BEGIN RSA PRIVATE KEY-----); check that it exists and is readable';

/** Loads the receiver's RSA public key (source host). Refuses private keys and keys under 2048 bits. */
export async function loadRsaPublicKey(path: string): Promise<LoadedKey> {
  const pem = await readPem(path, 'public key', PUBLIC_PEM_HINT);
  if (pem.includes('PRIVATE KEY')) {
    throw new ProtocolError('KEY_REJECTED', `failed to load public key: ${path} holds a private key; give the source host only the public key (${PUBLIC_PEM_HINT})`);
  }
  const key = parse(() => createPublicKey(pem), 'public key', path, PUBLIC_PEM_HINT);
  return { key: requireRsa(key, 'public key', path), kid: keyId(key), path };
}

/** Loads one of the receiver's RSA private keys (backup host). */
export async function loadRsaPrivateKey(path: string): Promise<LoadedKey> {
  const pem = await readPem(path, 'private key', PRIVATE_PEM_HINT);
  refusePublicKey(pem, 'private key', path, "the backup host needs the private half: give the <name>_private.pem that 'keys generate' wrote beside this file");
  const key = parse(() => createPrivateKey(pem), 'private key', path, PRIVATE_PEM_HINT);
  return { key: requireRsa(key, 'private key', path), kid: keyId(key), path };
}

/** Loads the sender's Ed25519 signing (private) key. */
export async function loadSigningKey(path: string): Promise<LoadedKey> {
  const pem = await readPem(path, 'signing key', PRIVATE_PEM_HINT);
  refusePublicKey(pem, 'signing key', path, "the source host signs with the private half: give the <name>_private.pem that 'keys generate' wrote beside this file (its public half goes to the receiver's trusted-sender-keys)");
  const key = parse(() => createPrivateKey(pem), 'signing key', path, PRIVATE_PEM_HINT);
  return { key: requireEd25519(key, 'signing key', path), kid: keyId(key), path };
}

/** Loads a trusted sender's Ed25519 public key (backup host). */
export async function loadVerifyingKey(path: string): Promise<LoadedKey> {
  const pem = await readPem(path, 'sender public key', PUBLIC_PEM_HINT);
  if (pem.includes('PRIVATE KEY')) {
    throw new ProtocolError('KEY_REJECTED', `failed to load sender public key: ${path} holds a private key; the receiver needs only the sender's public key`);
  }
  const key = parse(() => createPublicKey(pem), 'sender public key', path, PUBLIC_PEM_HINT);
  return { key: requireEd25519(key, 'sender public key', path), kid: keyId(key), path };
}

/**
 * RFC 7638 thumbprint of the public half of an RSA or Ed25519 key. Both sides compute it
 * from the key itself, so no key id has to be configured by hand.
 */
export function keyId(key: KeyObject): KeyId {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = publicKey.export({ format: 'jwk' });
  // Required members only, in lexicographic order, no whitespace (RFC 7638 §3.2).
  const canonical =
    jwk.kty === 'RSA'
      ? JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n })
      : JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return createHash('sha256').update(canonical).digest('base64url') as KeyId;
}

export interface PemKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

/** A new RSA key pair for envelope encryption (PKCS#8 private, SPKI public). */
export function generateRsaKeyPair(bits: number = DEFAULT_RSA_BITS): PemKeyPair {
  if (!Number.isInteger(bits) || bits < MIN_RSA_BITS) {
    throw new ProtocolError('KEY_REJECTED', `RSA key size must be an integer of at least ${MIN_RSA_BITS} bits, got ${bits}`);
  }
  const pair = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: pair.privateKey, publicKeyPem: pair.publicKey };
}

/** A new Ed25519 key pair for request signatures. */
export function generateEd25519KeyPair(): PemKeyPair {
  const pair = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: pair.privateKey, publicKeyPem: pair.publicKey };
}

async function readPem(path: string, what: string, hint: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new ProtocolError('KEY_LOAD_FAILED', `failed to load ${what}: cannot read ${path} (${reason}); ${hint}`, { cause });
  }
  if (!pem.includes('-----BEGIN ')) {
    throw new ProtocolError('KEY_LOAD_FAILED', `failed to load ${what}: ${path} is not PEM; ${hint}`);
  }
  return pem;
}

function parse(load: () => KeyObject, what: string, path: string, hint: string): KeyObject {
  try {
    return load();
  } catch (cause) {
    throw new ProtocolError('KEY_LOAD_FAILED', `failed to load ${what}: ${path} could not be parsed (${(cause as Error).message}); ${hint}`, { cause });
  }
}

/** The mirror of "holds a private key" for files that must hold one: the same clear words for the opposite mix-up. */
function refusePublicKey(pem: string, what: string, path: string, advice: string): void {
  if (pem.includes('PUBLIC KEY') && !pem.includes('PRIVATE KEY')) {
    throw new ProtocolError('KEY_REJECTED', `failed to load ${what}: ${path} holds a public key, not a private key; ${advice}`);
  }
}

/** "a rsa key" reads wrong: the article and the name as people write them. */
function keyTypeName(type: string | undefined): string {
  switch (type) {
    case 'rsa':
      return 'an RSA';
    case 'ed25519':
      return 'an Ed25519';
    case 'ec':
      return 'an EC';
    case undefined:
      return 'a non-asymmetric';
    default:
      return `a ${type}`;
  }
}

function requireRsa(key: KeyObject, what: string, path: string): KeyObject {
  if (key.asymmetricKeyType !== 'rsa') {
    throw new ProtocolError('KEY_REJECTED', `failed to load ${what}: ${path} is ${keyTypeName(key.asymmetricKeyType)} key, expected RSA`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) {
    throw new ProtocolError('KEY_REJECTED', `failed to load ${what}: ${path} is a ${bits}-bit RSA key; use ${MIN_RSA_BITS} bits or more (${DEFAULT_RSA_BITS} recommended)`);
  }
  return key;
}

function requireEd25519(key: KeyObject, what: string, path: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ProtocolError('KEY_REJECTED', `failed to load ${what}: ${path} is ${keyTypeName(key.asymmetricKeyType)} key, expected Ed25519`);
  }
  return key;
}
