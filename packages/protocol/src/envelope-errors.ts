import { ProtocolError } from './errors.js';

/** One answer for every decryption failure (wrong key, altered envelope): a prober learns nothing more. */
export function decryptFailed(cause?: unknown): ProtocolError {
  return new ProtocolError('ENVELOPE_DECRYPT_FAILED', 'envelope did not decrypt: wrong key, or the envelope was altered', cause === undefined ? {} : { cause });
}
