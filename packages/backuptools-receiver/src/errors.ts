/**
 * Every error the receiver answers with, its HTTP status, and whether a sender should retry.
 * docs/errors.md lists each with what the operator should do; a test keeps the two in step.
 */
export const RECEIVER_ERRORS = {
  MALFORMED_REQUEST: { status: 400, retry: false, summary: 'the request is malformed (webhook headers, body, or payload not JSON)' },
  UNAUTHORIZED: { status: 401, retry: false, summary: 'signature, timestamp or decryption failed' },
  CHUNK_OUT_OF_ORDER: { status: 409, retry: false, summary: "the batch does not follow the receiver's watermark: applying it would leave a hole" },
  TABLE_COPY_IN_PROGRESS: { status: 409, retry: false, summary: 'a stream change arrived for a table whose copy (snapshot, resync) is not complete; it applies once the copy completes' },
  SOURCE_SYSTEM_MISMATCH: { status: 409, retry: false, summary: 'the batch comes from another PostgreSQL system (system identifier) than the one this source id and slot were applied from' },
  SOURCE_TIMELINE_FORKED: { status: 409, retry: false, summary: 'the batch comes from a timeline that forked from the applied history at or before the watermark (an old primary back after a failover, a standby promoted before it had what the backup holds)' },
  BODY_TOO_LARGE: { status: 413, retry: false, summary: 'the body is over the configured body limit' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retry: false, summary: 'content-type is none of application/vnd.storx.envelope.v3 (v3), application/jose (v2), text/plain (seed-v1)' },
  PAYLOAD_INVALID: { status: 422, retry: false, summary: 'the decrypted payload does not match the schema' },
  COPY_DATA_INVALID: { status: 422, retry: false, summary: "a table copy chunk's COPY data does not match what it declares (columns, row count, lines), or PostgreSQL could not read it as COPY text" },
  TABLE_NOT_ALLOWED: { status: 422, retry: false, summary: 'the batch touches a table outside the allowlist' },
  TABLE_INCOMPATIBLE: { status: 422, retry: false, summary: 'the backup table cannot hold the source rows (missing, type or key differs)' },
  APPLY_REJECTED: { status: 422, retry: false, summary: 'the backup database refused a row (a constraint or a value it cannot read)' },
  RECEIVER_BUSY: { status: 503, retry: true, summary: 'uploads not yet authenticated hold the receive budget (receive-budget), or this peer its share of it; retry shortly' },
  PREDECESSOR_NOT_APPLIED: { status: 503, retry: true, summary: 'the batch names (follows) a batch the receiver has not applied, and that one did not commit within the wait (10 s by default); the sender sends again from the first unacknowledged batch' },
  ORDER_WAIT_FULL: { status: 503, retry: true, summary: 'as many batches as the receiver holds for their predecessors (count or bytes) are already waiting; retry shortly' },
  DATABASE_UNAVAILABLE: { status: 503, retry: true, summary: 'the backup database is unreachable or overloaded; retry later' },
  INTERNAL: { status: 500, retry: true, summary: 'an unexpected error; the log has the details' },
} as const satisfies Record<string, { status: number; retry: boolean; summary: string }>;

export type ReceiverErrorCode = keyof typeof RECEIVER_ERRORS;

export class ReceiverError extends Error {
  override readonly name = 'ReceiverError';
  readonly status: number;
  /** Fields for the log line only, never for the answer (what an unauthenticated caller must not learn). */
  readonly logFields: Readonly<Record<string, string | number>>;

  constructor(
    readonly code: ReceiverErrorCode,
    message: string,
    options: { cause?: unknown; logFields?: Record<string, string | number> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = RECEIVER_ERRORS[code].status;
    this.logFields = options.logFields ?? {};
  }
}
