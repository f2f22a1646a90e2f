import { constants, type KeyObject, privateDecrypt } from 'node:crypto';

/**
 * The receiver side of "no RSA unwrap per request": content keys already unwrapped, keyed by the
 * receiver key's kid and the exact wrapped-key bytes (RSA-OAEP decryption is a function of those
 * two, so a hit returns exactly what the unwrap would). Bounded (least recently used entries go
 * first) and aged out, so that neither many senders nor a long run grows it and a key does not
 * outlive its sender's rotation by much.
 *
 * Only the authenticated path may use it: `openV2`/`openV3` are called after the request's
 * signature verified, so an unauthenticated caller costs neither an RSA operation nor a slot.
 */
export class UnwrappedKeyCache {
  private readonly entries = new Map<string, { key: Buffer; at: number }>();
  /** RSA unwraps done (misses); for tests and metrics. */
  unwraps = 0;

  constructor(
    readonly maxEntries: number = 64,
    readonly maxAgeMs: number = 2 * 60 * 60 * 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The content key in `wrapped`, unwrapped with `privateKey` (named `kid`) or taken from the cache. Throws what privateDecrypt throws. */
  unwrap(kid: string, privateKey: KeyObject, wrapped: Buffer): Buffer {
    const id = `${kid}\u0000${wrapped.toString('latin1')}`;
    const at = this.now();
    const hit = this.entries.get(id);
    if (hit !== undefined) {
      this.entries.delete(id);
      if (at - hit.at < this.maxAgeMs && at >= hit.at) {
        this.entries.set(id, hit);
        return hit.key;
      }
    }
    const key = unwrapContentKey(privateKey, wrapped);
    this.unwraps += 1;
    // Only a key of the right size is kept: anything else fails the caller's check and is never reused.
    if (key.length === 32) {
      this.entries.set(id, { key, at });
      for (const oldest of this.entries.keys()) {
        if (this.entries.size <= this.maxEntries) break;
        this.entries.delete(oldest);
      }
    }
    return key;
  }

  get size(): number {
    return this.entries.size;
  }
}

/** RSA-OAEP-256 (SHA-256 for OAEP and MGF1, empty label) decryption of a wrapped content key. */
export function unwrapContentKey(privateKey: KeyObject, wrapped: Buffer): Buffer {
  return privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, wrapped);
}
