import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_RSA_BITS,
  generateEd25519KeyPair,
  generateRsaKeyPair,
  loadRsaPrivateKey,
  loadRsaPublicKey,
  loadSigningKey,
  loadVerifyingKey,
  ProtocolError,
  writeKeyPair,
} from '../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'protocol-keys-'));
});

async function file(name: string, contents: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, contents);
  return path;
}

async function rejection(promise: Promise<unknown>): Promise<ProtocolError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (error instanceof ProtocolError) return error;
  throw new Error(`expected a ProtocolError, got ${String(error)}`);
}

describe('key loading', () => {
  it('loads a generated RSA pair; both halves have the same kid', async () => {
    const pair = generateRsaKeyPair(2048);
    const publicKey = await loadRsaPublicKey(await file('rsa_public.pem', pair.publicKeyPem));
    const privateKey = await loadRsaPrivateKey(await file('rsa_private.pem', pair.privateKeyPem));
    expect(publicKey.kid).toBe(privateKey.kid);
    expect(publicKey.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("reports a missing file in the seed's words", async () => {
    const error = await rejection(loadRsaPublicKey(join(dir, 'nope.pem')));
    expect(error.code).toBe('KEY_LOAD_FAILED');
    expect(error.message).toMatch(/^failed to load public key: cannot read .*nope\.pem \(ENOENT\)/);
    expect(error.message).toContain('-----BEGIN PUBLIC KEY-----');
  });

  it('reports a file that is not PEM, and PEM that does not parse', async () => {
    const notPem = await rejection(loadRsaPublicKey(await file('garbage.pem', 'hello')));
    expect(notPem.message).toMatch(/^failed to load public key: .* is not PEM; the file must be PEM starting with -----BEGIN PUBLIC KEY-----/);
    const broken = await rejection(loadRsaPublicKey(await file('broken.pem', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n')));
    expect(broken.code).toBe('KEY_LOAD_FAILED');
    expect(broken.message).toContain('could not be parsed');
  });

  it('refuses RSA keys under 2048 bits', async () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const error = await rejection(loadRsaPublicKey(await file('small_public.pem', small.publicKey)));
    expect(error.code).toBe('KEY_REJECTED');
    expect(error.message).toContain('1024-bit RSA key; use 2048 bits or more');
    expect((await rejection(loadRsaPrivateKey(await file('small_private.pem', small.privateKey)))).code).toBe('KEY_REJECTED');
    expect(() => generateRsaKeyPair(1024)).toThrow(ProtocolError);
  });

  it('refuses a private key where the public key belongs (it must not travel to the source host)', async () => {
    const pair = generateRsaKeyPair(2048);
    const error = await rejection(loadRsaPublicKey(await file('swapped.pem', pair.privateKeyPem)));
    expect(error.code).toBe('KEY_REJECTED');
    expect(error.message).toContain('holds a private key');
  });

  it('refuses a public key where a private key belongs, with the same clear words as the opposite mix-up', async () => {
    const ed = generateEd25519KeyPair();
    const signing = await rejection(loadSigningKey(await file('signing_given_public.pem', ed.publicKeyPem)));
    expect(signing.code).toBe('KEY_REJECTED');
    expect(signing.message).toMatch(/^failed to load signing key: .*signing_given_public\.pem holds a public key, not a private key; the source host signs with the private half/);
    const rsa = generateRsaKeyPair(2048);
    const decrypting = await rejection(loadRsaPrivateKey(await file('private_given_public.pem', rsa.publicKeyPem)));
    expect(decrypting.message).toMatch(/^failed to load private key: .* holds a public key, not a private key; the backup host needs the private half/);
  });

  it('refuses keys of the wrong type', async () => {
    const ed = generateEd25519KeyPair();
    const rsa = generateRsaKeyPair(2048);
    expect((await rejection(loadRsaPublicKey(await file('ed_public.pem', ed.publicKeyPem)))).message).toContain('expected RSA');
    expect((await rejection(loadSigningKey(await file('rsa_private2.pem', rsa.privateKeyPem)))).message).toContain('expected Ed25519');
    expect((await rejection(loadVerifyingKey(await file('rsa_public2.pem', rsa.publicKeyPem)))).message).toContain('expected Ed25519');
  });

  it('accepts the PKCS#1 private key older `openssl genrsa` writes', async () => {
    const legacy = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs1', format: 'pem' } });
    expect(legacy.privateKey).toContain('BEGIN RSA PRIVATE KEY');
    await expect(loadRsaPrivateKey(await file('pkcs1.pem', legacy.privateKey))).resolves.toMatchObject({ path: expect.any(String) as string });
  });
});

describe('key generation', () => {
  it('generates 3072-bit RSA by default', () => {
    expect(DEFAULT_RSA_BITS).toBe(3072);
    const pair = generateRsaKeyPair();
    expect(pair.publicKeyPem.startsWith('-----BEGIN PUBLIC KEY-----')).toBe(true);
    expect(pair.privateKeyPem.startsWith('-----BEGIN PRIVATE KEY-----')).toBe(true);
  });

  it('creates the key directory and its missing parents 0700 even under umask 000', async () => {
    const previous = process.umask(0);
    try {
      const out = join(dir, 'umask-000', 'nested', 'keys');
      const written = await writeKeyPair(out, 'receiver', generateEd25519KeyPair());
      for (const created of [out, join(dir, 'umask-000', 'nested'), join(dir, 'umask-000')]) expect((await stat(created)).mode & 0o777, created).toBe(0o700);
      expect((await stat(written.privateKeyPath)).mode & 0o777).toBe(0o600);
      expect((await stat(written.publicKeyPath)).mode & 0o777).toBe(0o644);
    } finally {
      process.umask(previous);
    }
    // An existing directory is the operator's: its mode is left alone.
    expect((await stat(dir)).mode & 0o777).not.toBe(0);
  });

  it('writes the private key 0600 and the public key 0644, and never overwrites', async () => {
    const out = join(dir, 'generated');
    const written = await writeKeyPair(out, 'sender', generateEd25519KeyPair());
    expect((await stat(written.privateKeyPath)).mode & 0o777).toBe(0o600);
    expect((await stat(written.publicKeyPath)).mode & 0o777).toBe(0o644);
    await expect(loadSigningKey(written.privateKeyPath)).resolves.toBeDefined();
    await expect(loadVerifyingKey(written.publicKeyPath)).resolves.toBeDefined();

    const before = await readFile(written.privateKeyPath, 'utf8');
    await expect(writeKeyPair(out, 'sender', generateEd25519KeyPair())).rejects.toThrow('already exists');
    expect(await readFile(written.privateKeyPath, 'utf8')).toBe(before);
  });
});
