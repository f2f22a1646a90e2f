// An independent implementation of both envelopes in node-forge (pure JavaScript, no
// OpenSSL), used only by tests: if ours and forge's agree in both directions, a third-party
// receiver (Go, Python, ...) following docs/protocol.md will agree with us too.
import forge from 'node-forge';

const toBinary = (bytes: Uint8Array): string => Buffer.from(bytes).toString('binary');
const fromBinary = (binary: string): Buffer => Buffer.from(binary, 'binary');

function oaepOptions(): { md: forge.md.MessageDigest; mgf1: { md: forge.md.MessageDigest } } {
  return { md: forge.md.sha256.create(), mgf1: { md: forge.md.sha256.create() } };
}

function gcmEncrypt(key: Buffer, iv: Buffer, plaintext: Uint8Array, additionalData: string): { ciphertext: Buffer; tag: Buffer } {
  const cipher = forge.cipher.createCipher('AES-GCM', forge.util.createBuffer(toBinary(key)));
  cipher.start({ iv: forge.util.createBuffer(toBinary(iv)), additionalData, tagLength: 128 });
  cipher.update(forge.util.createBuffer(toBinary(plaintext)));
  cipher.finish();
  return { ciphertext: fromBinary(cipher.output.getBytes()), tag: fromBinary((cipher.mode).tag.getBytes()) };
}

function gcmDecrypt(key: Buffer, iv: Buffer, ciphertext: Buffer, tag: Buffer, additionalData: string): Buffer {
  const decipher = forge.cipher.createDecipher('AES-GCM', forge.util.createBuffer(toBinary(key)));
  decipher.start({ iv: forge.util.createBuffer(toBinary(iv)), additionalData, tagLength: 128, tag: forge.util.createBuffer(toBinary(tag)) });
  decipher.update(forge.util.createBuffer(toBinary(ciphertext)));
  if (!decipher.finish()) throw new Error('forge: GCM tag mismatch');
  return fromBinary(decipher.output.getBytes());
}

function randomBuffer(length: number): Buffer {
  return fromBinary(forge.random.getBytesSync(length));
}

/** The seed format, sealed by forge. */
export function forgeSealSeed(plaintext: Uint8Array, publicKeyPem: string): string {
  const publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  const aesKey = randomBuffer(32);
  const iv = randomBuffer(12);
  const { ciphertext, tag } = gcmEncrypt(aesKey, iv, plaintext, '');
  const wrapped = fromBinary(publicKey.encrypt(toBinary(aesKey), 'RSA-OAEP', oaepOptions()));
  return `${wrapped.toString('base64')}:${Buffer.concat([iv, ciphertext, tag]).toString('base64')}`;
}

/** The seed format, opened by forge. */
export function forgeOpenSeed(body: string, privateKeyPem: string): Buffer {
  const privateKey = forge.pki.privateKeyFromPem(privateKeyPem);
  const [wrapped, sealed] = body.split(':').map((part) => Buffer.from(part, 'base64')) as [Buffer, Buffer];
  const aesKey = fromBinary(privateKey.decrypt(toBinary(wrapped), 'RSA-OAEP', oaepOptions()));
  return gcmDecrypt(aesKey, sealed.subarray(0, 12), sealed.subarray(12, sealed.length - 16), sealed.subarray(sealed.length - 16), '');
}

/** A JWE compact serialization (RSA-OAEP-256, A256GCM), built by hand per RFC 7516 §5.1. */
export function forgeSealJwe(plaintext: Uint8Array, publicKeyPem: string, kid: string): string {
  const publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  const header = Buffer.from(JSON.stringify({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid })).toString('base64url');
  const cek = randomBuffer(32);
  const iv = randomBuffer(12);
  const wrapped = fromBinary(publicKey.encrypt(toBinary(cek), 'RSA-OAEP', oaepOptions()));
  // The additional authenticated data is the ASCII of the encoded protected header.
  const { ciphertext, tag } = gcmEncrypt(cek, iv, plaintext, header);
  return [header, wrapped.toString('base64url'), iv.toString('base64url'), ciphertext.toString('base64url'), tag.toString('base64url')].join('.');
}

/** Opens a JWE compact serialization with forge; returns the header and plaintext. */
export function forgeOpenJwe(jwe: string, privateKeyPem: string): { header: Record<string, unknown>; plaintext: Buffer } {
  const privateKey = forge.pki.privateKeyFromPem(privateKeyPem);
  const [header, wrapped, iv, ciphertext, tag] = jwe.split('.') as [string, string, string, string, string];
  const cek = fromBinary(privateKey.decrypt(toBinary(Buffer.from(wrapped, 'base64url')), 'RSA-OAEP', oaepOptions()));
  const plaintext = gcmDecrypt(cek, Buffer.from(iv, 'base64url'), Buffer.from(ciphertext, 'base64url'), Buffer.from(tag, 'base64url'), header);
  return { header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>, plaintext };
}

/**
 * A v3 frame, built by forge from docs/protocol.md alone ("Body: wire format v3"):
 * "STX" 0x03 | u16 H | header | u16 K | wrapped key | IV(12) | u32 C | ciphertext | tag(16),
 * additional authenticated data = every byte before the ciphertext.
 */
export function forgeSealV3(plaintext: Uint8Array, publicKeyPem: string, kid: string, shared?: { cek: Buffer; wrapped: Buffer }): Buffer {
  const publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  const header = Buffer.from(`{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"${kid}","cty":"storx-batch+json"}`, 'utf8');
  const cek = shared?.cek ?? randomBuffer(32);
  const wrapped = shared?.wrapped ?? fromBinary(publicKey.encrypt(toBinary(cek), 'RSA-OAEP', oaepOptions()));
  const iv = randomBuffer(12);
  const u16 = (value: number): Buffer => Buffer.from([value >> 8, value & 0xff]);
  const u32 = (value: number): Buffer => Buffer.from([(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
  const aad = Buffer.concat([Buffer.from('STX', 'ascii'), Buffer.from([3]), u16(header.length), header, u16(wrapped.length), wrapped, iv, u32(plaintext.byteLength)]);
  const { ciphertext, tag } = gcmEncrypt(cek, iv, plaintext, toBinary(aad));
  return Buffer.concat([aad, ciphertext, tag]);
}

/** Opens a v3 frame with forge, reading it field by field as docs/protocol.md describes. */
export function forgeOpenV3(frame: Uint8Array, privateKeyPem: string): { header: Record<string, unknown>; plaintext: Buffer } {
  const bytes = Buffer.from(frame);
  if (bytes.toString('ascii', 0, 3) !== 'STX' || bytes[3] !== 3) throw new Error('forge: not a v3 frame');
  let at = 4;
  const take = (length: number): Buffer => {
    if (at + length > bytes.length) throw new Error('forge: truncated');
    const part = bytes.subarray(at, at + length);
    at += length;
    return part;
  };
  const u16 = (): number => {
    const two = take(2);
    return (two[0]! << 8) | two[1]!;
  };
  const header = take(u16());
  const wrapped = take(u16());
  const iv = take(12);
  const four = take(4);
  const length = ((four[0]! << 24) >>> 0) + (four[1]! << 16) + (four[2]! << 8) + four[3]!;
  const aad = bytes.subarray(0, at);
  const ciphertext = take(length);
  const tag = take(16);
  if (at !== bytes.length) throw new Error('forge: bytes after the tag');
  const privateKey = forge.pki.privateKeyFromPem(privateKeyPem);
  const cek = fromBinary(privateKey.decrypt(toBinary(wrapped), 'RSA-OAEP', oaepOptions()));
  return { header: JSON.parse(header.toString('utf8')) as Record<string, unknown>, plaintext: gcmDecrypt(cek, iv, ciphertext, tag, toBinary(aad)) };
}
