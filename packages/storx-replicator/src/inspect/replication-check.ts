import type { ReceiverRefusal } from './receiver-ping.js';
import type { RunHealth } from './run-health.js';
import type { StatusProblem, StatusReport } from './status-report.js';

/**
 * Is replication blocked? Two witnesses: the local run (its /healthz, when metrics-listen is on
 * and it runs) knows every failure, including those the receiver never sees (a wrong path, a
 * proxy); the receiver records the batch it refused (TABLE_INCOMPATIBLE, CHUNK_OUT_OF_ORDER...)
 * and says so in its ping reply, which works with metrics-listen off. A refusal from either is
 * an error: nothing moves until someone fixes it.
 */
export function judgeReplication(run: RunHealth | undefined, refusal: ReceiverRefusal | null | undefined): { section: StatusReport['replication']; problems: StatusProblem[] } {
  const section: StatusReport['replication'] = { blocked: null, run_health: run?.status ?? null, failure: null };
  if (run === undefined && refusal === undefined) return { section, problems: [] };
  // run saying ok wins: it has delivered since (the receiver forgets a refusal then, too).
  if (run?.status === 'blocked' && run.failure) {
    section.failure = { reported_by: 'replicator', ...run.failure };
  } else if (run?.status !== 'ok' && refusal) {
    section.failure = { reported_by: 'receiver', code: refusal.code, http_status: refusal.http_status, message: refusal.message, fix: refusal.fix, since: refusal.since, attempts: refusal.attempts, commit_lsn: refusal.commit_lsn };
  } else if (run?.status === 'unhealthy' && run.failure) {
    section.failure = { reported_by: 'replicator', ...run.failure };
  }
  section.blocked = run?.status === 'blocked' || section.failure?.reported_by === 'receiver';

  const failure = section.failure;
  if (failure === null) return { section, problems: [] };
  const at = failure.commit_lsn === null ? '' : ` the batch at ${failure.commit_lsn}`;
  const times = failure.attempts === null ? '' : `, ${failure.attempts} ${failure.attempts === 1 ? 'attempt' : 'attempts'}`;
  if (section.blocked) {
    const who = failure.reported_by === 'replicator' ? 'run reports' : 'the receiver reports';
    return {
      section,
      problems: [{ severity: 'error', item: 'replication', message: `replication is blocked since ${failure.since} (${who}${times}): the receiver refuses${at} with ${failure.http_status === null ? '' : `HTTP ${failure.http_status} `}${failure.code}: ${failure.message}`, fix: `${failure.fix}; run retries by itself every replication.blocked-retry-interval and resumes once the cause is gone (nothing is skipped)` }],
    };
  }
  return { section, problems: [{ severity: 'warning', item: 'replication', message: `deliveries fail since ${failure.since}${times} (run reports ${failure.code}): ${failure.message}`, fix: failure.fix }] };
}
