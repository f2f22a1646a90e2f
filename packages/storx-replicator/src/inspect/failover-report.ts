import type { ReplicatorConfig } from '../config.js';
import { type ChecklistItem, failed, passed, warned } from './checklist-item.js';
import { type FailoverFinding, judgeFailover } from './failover-check.js';
import { type FailoverFacts, readFailoverFacts } from './failover-facts.js';
import type { StatusProblem, StatusReport } from './status-report.js';

/** Reads every source host and judges failover readiness (the part `doctor` and `status` share). */
export async function checkFailover(config: ReplicatorConfig): Promise<{ facts: FailoverFacts; findings: FailoverFinding[] }> {
  const facts = await readFailoverFacts(config.sourceUrls, config.slotName);
  return { facts, findings: judgeFailover(facts) };
}

/** `status --json`'s failover section. */
export function failoverSection(facts: FailoverFacts, findings: readonly FailoverFinding[]): StatusReport['failover'] {
  return {
    checked: facts.primary !== null || facts.standbys.length > 0,
    primary: facts.primary?.host ?? null,
    server_version_num: facts.primary?.versionNum ?? null,
    standbys: facts.standbys.map((standby) => standby.host),
    findings: [...findings],
  };
}

/** Warnings and errors as status problems (item `failover`). */
export function failoverProblems(findings: readonly FailoverFinding[]): StatusProblem[] {
  return findings.filter((finding) => finding.level === 'warning' || finding.level === 'error').map((finding): StatusProblem => ({ severity: finding.level === 'error' ? 'error' : 'warning', item: 'failover', message: finding.text, fix: finding.fix.join('; ') }));
}

/** Doctor's items: ✓ for ok and info, ! for a warning (doctor still passes), ✗ for an error. */
export function failoverItems(findings: readonly FailoverFinding[]): ChecklistItem[] {
  return findings.map((finding) => {
    const title = `failover: ${finding.text}`;
    if (finding.level === 'error') return failed('PostgreSQL', title, finding.fix);
    if (finding.level === 'warning') return warned('PostgreSQL', title, finding.fix);
    return passed('PostgreSQL', title);
  });
}
