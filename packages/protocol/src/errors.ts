/**
 * Every error the protocol can report, with the HTTP status a receiver answers it with.
 * The receiver's answers and docs/protocol.md are derived from this one table.
 *
 * - 400: the request itself is malformed (missing or unparsable headers, body not a string).
 * - 401: authentication or decryption failed. Receivers answer every 401 with one identical
 *   body, so that a prober learns nothing about which check failed.
 * - 422: authenticated and decrypted, but the payload does not satisfy the schema.
 */
export const PROTOCOL_ERRORS = {
  KEY_LOAD_FAILED: { status: 500, summary: 'a key file could not be read or parsed' },
  KEY_REJECTED: { status: 500, summary: 'a key is of the wrong type or too small' },
  WEBHOOK_MISSING_HEADER: { status: 400, summary: 'a required webhook-* header is missing' },
  WEBHOOK_MALFORMED_HEADER: { status: 400, summary: 'a webhook-* header is not in the expected form' },
  WEBHOOK_TIMESTAMP_TOO_OLD: { status: 401, summary: 'webhook-timestamp is older than the tolerance' },
  WEBHOOK_TIMESTAMP_IN_FUTURE: { status: 401, summary: 'webhook-timestamp is further in the future than the tolerance' },
  WEBHOOK_SIGNATURE_INVALID: { status: 401, summary: 'no signature in webhook-signature verifies with a trusted key' },
  WEBHOOK_REPLAYED: { status: 401, summary: 'a verify request whose webhook-id the receiver has seen before' },
  ENVELOPE_MALFORMED: { status: 401, summary: 'the body is not a well-formed envelope' },
  ENVELOPE_ALGORITHM_NOT_ALLOWED: { status: 401, summary: 'the envelope names an algorithm outside the allowlist' },
  ENVELOPE_UNKNOWN_KEY: { status: 401, summary: 'no configured private key matches the envelope' },
  ENVELOPE_DECRYPT_FAILED: { status: 401, summary: 'the envelope did not decrypt (wrong key or tampered)' },
  PAYLOAD_NOT_JSON: { status: 400, summary: 'the decrypted payload is not JSON' },
  PAYLOAD_INVALID: { status: 422, summary: 'the decrypted payload does not match the schema' },
  PAYLOAD_COPY_INVALID: { status: 422, summary: "a copy chunk's COPY data does not match its copy header (columns, row count, lines)" },
} as const satisfies Record<string, { status: number; summary: string }>;

export type ProtocolErrorCode = keyof typeof PROTOCOL_ERRORS;

/** One problem in a payload, named by its path (`events[3].data.size`). */
export interface PayloadIssue {
  path: string;
  message: string;
}

/** A typed protocol failure. `code` is stable and documented in docs/protocol.md. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;
  /** HTTP status a receiver answers with. */
  readonly status: number;
  /** For PAYLOAD_INVALID: every offending field. */
  readonly issues: readonly PayloadIssue[];

  constructor(code: ProtocolErrorCode, message: string, options: { cause?: unknown; issues?: readonly PayloadIssue[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = PROTOCOL_ERRORS[code].status;
    this.issues = options.issues ?? [];
  }
}

/** True when `error` is a ProtocolError, optionally of the given code. */
export function isProtocolError(error: unknown, code?: ProtocolErrorCode): error is ProtocolError {
  return error instanceof ProtocolError && (code === undefined || error.code === code);
}
