import { constants, type KeyObject, publicEncrypt, randomBytes } from 'node:crypto';
import type { KeyId } from './keys.js';

/**
 * A content key shared by many envelopes, and its RSA-OAEP-256 wrapped form (the sender side of
 * "no RSA unwrap per request"). Every envelope still carries the wrapped key and a fresh random
 * 96-bit IV, so each request stays self-contained (retries, a restarted receiver, two receivers
 * behind a load balancer all work); a receiver that caches unwrapped keys (UnwrappedKeyCache)
 * pays the RSA private-key operation (2.0-2.8 ms for 3072 bits here) once per content key
 * instead of once per request. A receiver that does not cache opens the envelopes as before.
 *
 * Why not HPKE (RFC 9180) with sequence-number nonces: it needs a new key type and its own key
 * schedule (Node 20 has no HPKE), and a per-message sequence makes the receiver stateful about
 * the order and retries of requests, which our at-least-once delivery reorders and repeats.
 * Random IVs keep every envelope independent; the bounds below keep them safe.
 */
export interface ContentKey {
  /** The 32-byte AES-256-GCM key. */
  key: Buffer;
  /** RSA-OAEP-256(key) for the recipient `kid`: the same bytes in every envelope sealed with it. */
  wrapped: Buffer;
  kid: KeyId;
}

/**
 * Rotation bounds. AES-GCM with random 96-bit IVs must stay far below 2^32 messages per key
 * (NIST SP 800-38D §8.3): after q messages the chance that two share an IV is about q²/2^97,
 * 2^-57 at the 2^20 messages allowed here. Time and bytes bound how much one key protects, and
 * how long it lives in either process's memory.
 */
export interface ContentKeyLimits {
  /** Envelopes per key; default 2^20 (1,048,576). */
  maxMessages: number;
  /** Plaintext bytes per key; default 2^36 (64 GiB). */
  maxBytes: number;
  /** Age of a key; default one hour. */
  maxAgeMs: number;
}

export const DEFAULT_CONTENT_KEY_LIMITS: Readonly<ContentKeyLimits> = Object.freeze({ maxMessages: 2 ** 20, maxBytes: 2 ** 36, maxAgeMs: 60 * 60 * 1000 });

/** The sender's current content key per recipient, rotated by count, bytes and time. */
export class ContentKeys {
  private current: (ContentKey & { messages: number; bytes: number; createdAt: number }) | undefined;
  private readonly limits: ContentKeyLimits;
  /** How many keys were made (one RSA encryption each); for tests and metrics. */
  created = 0;

  constructor(
    limits: Partial<ContentKeyLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_CONTENT_KEY_LIMITS, ...limits };
  }

  /** The key to seal `plaintextBytes` for `recipient` with: the current one, or a fresh one past any bound. */
  next(recipient: { key: KeyObject; kid: KeyId }, plaintextBytes: number): ContentKey {
    const at = this.now();
    const current = this.current;
    const fresh =
      current === undefined ||
      current.kid !== recipient.kid ||
      current.messages >= this.limits.maxMessages ||
      current.bytes + plaintextBytes > this.limits.maxBytes ||
      at - current.createdAt >= this.limits.maxAgeMs ||
      at < current.createdAt;
    if (fresh) {
      const key = randomBytes(32);
      const wrapped = publicEncrypt({ key: recipient.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, key);
      this.current = { key, wrapped, kid: recipient.kid, messages: 0, bytes: 0, createdAt: at };
      this.created += 1;
    }
    const key = this.current!;
    key.messages += 1;
    key.bytes += plaintextBytes;
    return { key: key.key, wrapped: key.wrapped, kid: key.kid };
  }
}
