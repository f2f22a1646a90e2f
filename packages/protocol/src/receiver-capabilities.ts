import { COPY_FORMATS, type CopyFormat } from './copy-payload.js';
import { DIGEST_SIGNATURE_VERSION, SIGNATURE_SCHEMES, SIGNATURE_VERSION, type SignatureScheme } from './signed-content.js';

/** Body formats a receiver can name in its ping answer. */
export type AcceptedFormat = 'v3' | 'v2' | 'seed-v1';

/**
 * What a receiver verifies and opens, as its ping answer advertises it
 * (`"accepts": { "formats": [...], "signatures": [...] }`, docs/protocol.md). The sender signs
 * and seals in the best of these it knows; a receiver that says nothing (older than the member)
 * gets what every receiver takes: v2 bodies signed `v1a`.
 */
export interface ReceiverCapabilities {
  formats: readonly AcceptedFormat[];
  signatures: readonly SignatureScheme[];
  /**
   * `"follows": true`: the receiver takes a batch's `follows` member and holds a batch whose
   * predecessor is not applied yet until it is, so the sender may keep several batches in
   * flight. False for a receiver that does not say so: it gets one batch at a time (it would
   * refuse the member with 422, never apply a batch out of order).
   */
  follows: boolean;
  /**
   * Row encodings of table-copy chunks it takes in a v3 frame besides JSON events
   * (`"copy": ["text"]`: COPY text, copy-payload.ts); empty for a receiver older than the member.
   */
  copy: readonly CopyFormat[];
  /**
   * `"copy_follows": true`: the receiver takes `follows` on a table copy chunk (naming the chunk
   * before it of the same copy) and holds a chunk until that one is applied, so the sender may
   * keep several chunks of a copy in flight. False for a receiver that does not say so (it
   * refuses the member on a copy chunk with 422): one chunk at a time. The wire name is the key.
   */
  copy_follows: boolean;
  /**
   * `"durable": true`: the receiver may commit asynchronously and says in every 2xx answer, in
   * `durable`, how far what it applied is flushed to disk; the sender acknowledges its slot only
   * that far. False for a receiver that does not say so: its 2xx means durably committed.
   */
  durable: boolean;
}

/** What a receiver older than the `accepts` member takes. */
export const LEGACY_RECEIVER_CAPABILITIES: ReceiverCapabilities = Object.freeze({ formats: Object.freeze(['v2', 'seed-v1'] as const), signatures: Object.freeze([SIGNATURE_VERSION] as const), follows: false, copy: Object.freeze([]), copy_follows: false, durable: false });

/** What this version's receiver takes, for its ping answer. */
export const RECEIVER_CAPABILITIES: ReceiverCapabilities = Object.freeze({ formats: Object.freeze(['v3', 'v2', 'seed-v1'] as const), signatures: SIGNATURE_SCHEMES, follows: true, copy: COPY_FORMATS, copy_follows: true, durable: true });

const KNOWN_FORMATS: ReadonlySet<string> = new Set<AcceptedFormat>(['v3', 'v2', 'seed-v1']);
const KNOWN_SIGNATURES: ReadonlySet<string> = new Set<string>(SIGNATURE_SCHEMES);
const KNOWN_COPY_FORMATS: ReadonlySet<string> = new Set<string>(COPY_FORMATS);

/**
 * Reads `accepts` from a parsed ping answer. Unknown entries are dropped (a newer receiver may
 * name formats this sender does not know); an absent or malformed member means a receiver
 * older than it: LEGACY_RECEIVER_CAPABILITIES. The answer is not authenticated, so nothing read
 * here can weaken a request: every scheme and format named is one the sender would accept to
 * use anyway, and a wrong claim only gets a request refused (and the sender pings again).
 */
export function readReceiverCapabilities(reply: unknown): ReceiverCapabilities {
  if (typeof reply !== 'object' || reply === null || !Object.hasOwn(reply, 'accepts')) return LEGACY_RECEIVER_CAPABILITIES;
  const accepts = (reply as { accepts: unknown }).accepts;
  if (typeof accepts !== 'object' || accepts === null) return LEGACY_RECEIVER_CAPABILITIES;
  const list = (name: string, known: ReadonlySet<string>): string[] | undefined => {
    const value = Object.hasOwn(accepts, name) ? (accepts as Record<string, unknown>)[name] : undefined;
    return Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string' && known.has(entry)) : undefined;
  };
  const formats = list('formats', KNOWN_FORMATS) as AcceptedFormat[] | undefined;
  const signatures = list('signatures', KNOWN_SIGNATURES) as SignatureScheme[] | undefined;
  if (formats === undefined || signatures === undefined) return LEGACY_RECEIVER_CAPABILITIES;
  // Absent in receivers older than copy chunks: they take table copies as JSON events only.
  const copy = (list('copy', KNOWN_COPY_FORMATS) ?? []) as CopyFormat[];
  const flag = (name: string): boolean => Object.hasOwn(accepts, name) && (accepts as Record<string, unknown>)[name] === true;
  return { formats, signatures, follows: flag('follows'), copy, copy_follows: flag('copy_follows'), durable: flag('durable') };
}

/** The signature scheme to use toward a receiver: `v1d` when it verifies it, else `v1a`. */
export function preferredSignatureScheme(capabilities: ReceiverCapabilities): SignatureScheme {
  return capabilities.signatures.includes(DIGEST_SIGNATURE_VERSION) ? DIGEST_SIGNATURE_VERSION : SIGNATURE_VERSION;
}
