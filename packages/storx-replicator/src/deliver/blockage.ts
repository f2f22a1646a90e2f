import { formatLsn, type Lsn } from '@storx-backup/protocol';

/**
 * Why deliveries fail right now, as `run` reports it (/healthz, its log, `status`). A refusal
 * (permanent) blocks replication until someone fixes its cause; a transient failure is retried.
 */
export interface DeliveryFailure {
  permanent: boolean;
  /** The receiver's error code (`TABLE_INCOMPATIBLE`), `HTTP_<status>`, `NOT_A_RECEIVER`, or `network`/`timeout`. */
  code: string;
  httpStatus: number | null;
  reason: string;
  fix: string;
  /** When this failure (same code, same batch) was first seen. */
  since: Date;
  attempts: number;
  webhookId: string;
  commitLsn: Lsn | undefined;
  chunkIndex: number | undefined;
}

/** Two failures are one state when nothing an operator would act on differs. */
export function sameFailure(a: DeliveryFailure | undefined, b: Pick<DeliveryFailure, 'permanent' | 'code' | 'webhookId'>): boolean {
  return a !== undefined && a.permanent === b.permanent && a.code === b.code && a.webhookId === b.webhookId;
}

/** The /healthz and `status --json` form (snake_case, ISO time, LSN text). */
export function failureToJson(failure: DeliveryFailure): Record<string, unknown> {
  return {
    code: failure.code,
    http_status: failure.httpStatus,
    message: failure.reason,
    fix: failure.fix,
    since: failure.since.toISOString(),
    attempts: failure.attempts,
    commit_lsn: failure.commitLsn === undefined ? null : formatLsn(failure.commitLsn),
    chunk_index: failure.chunkIndex ?? null,
  };
}
