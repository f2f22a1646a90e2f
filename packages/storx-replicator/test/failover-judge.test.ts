import { describe, expect, it } from 'vitest';
import { conninfoHasDbname, judgeFailover } from '../src/inspect/failover-check.js';
import type { FailoverFacts, PrimaryFacts, StandbyFacts } from '../src/inspect/failover-facts.js';

// The rules of failover readiness, judged from facts as the servers would report them. The same
// rules on a real PostgreSQL 17 primary and standby (and a real 15): failover-settings.test.ts.

function primary(overrides: Partial<PrimaryFacts> = {}): PrimaryFacts {
  return {
    host: 'master:5432',
    url: 'postgres://u@master:5432/storx',
    versionNum: 170002,
    version: '17.2',
    slot: { failover: true, confirmedFlushLsn: '0/3000100' },
    synchronizedStandbySlots: ['replica1_slot'],
    physicalSlots: [{ name: 'replica1_slot', active: true, walStatus: 'reserved' }],
    connectedStandbys: 1,
    ...overrides,
  };
}
function standby(overrides: Partial<StandbyFacts> = {}, settings: Partial<StandbyFacts['settings']> = {}): StandbyFacts {
  return {
    host: 'replica:5432',
    settings: { syncReplicationSlots: 'on', hotStandbyFeedback: 'on', primarySlotName: 'replica1_slot', walLevel: 'logical', primaryConninfo: "host=master user=replicator password='x y' dbname=storx", ...settings },
    conninfoError: null,
    slotCopy: { synced: true, temporary: false, invalidationReason: null, confirmedFlushLsn: '0/3000000' },
    ...overrides,
  };
}
function facts(overrides: Partial<FailoverFacts> = {}): FailoverFacts {
  return { slotName: 'backuptools_slot', database: 'storx', user: 'storx', hostCount: 2, primary: primary(), standbys: [standby()], unreachable: [], extraPrimaries: [], ...overrides };
}
const problems = (input: FailoverFacts): string[] => judgeFailover(input).filter((finding) => finding.level === 'warning' || finding.level === 'error').map((finding) => `${finding.level}: ${finding.text} | fix: ${finding.fix.join('; ')}`);

describe('judgeFailover', () => {
  it('everything right on 17: only ok findings, the copy 256 bytes behind the primary', () => {
    const findings = judgeFailover(facts());
    expect(findings.every((finding) => finding.level === 'ok')).toBe(true);
    expect(findings.map((finding) => finding.text)).toEqual([
      'slot backuptools_slot on master:5432 has failover = true',
      'synchronized_standby_slots on master:5432 names replica1_slot',
      'standby replica:5432 synchronizes slots: sync_replication_slots = on, hot_standby_feedback = on, primary_slot_name = replica1_slot, dbname in primary_conninfo, wal_level = logical',
      "standby replica:5432 holds a synced, valid copy of slot backuptools_slot at 0/3000000, 256 bytes behind the primary's 0/3000100",
    ]);
  });

  it('below 17: a warning that a failover needs a resnapshot; with one host and no standby, info only', () => {
    const old = primary({ versionNum: 150010, version: '15.10', synchronizedStandbySlots: null, slot: { failover: null, confirmedFlushLsn: '0/1' } });
    expect(problems(facts({ primary: old, standbys: [] }))).toEqual([
      'warning: PostgreSQL 15.10 has no failover slots (17+): a standby never holds a copy of slot backuptools_slot, so after a failover the backup needs a resnapshot: storx-replicator snapshot (or a new replication.slot-name and storx-replicator run; docs/operations.md, "Slot lost: resnapshot") | fix: plan the resnapshot for a failover, or upgrade both hosts to PostgreSQL 17 or later to keep the stream across it (docs/operations.md, "Failover")',
    ]);
    const alone = judgeFailover(facts({ hostCount: 1, primary: { ...old, connectedStandbys: 0 }, standbys: [] }));
    expect(alone).toEqual([expect.objectContaining({ level: 'info', text: expect.stringMatching(/^no standby configured .*PostgreSQL 15\.10 has no failover slots .*needs a resnapshot/) as string })]);
    // A version mocked: the 17 rules start at 170000.
    expect(problems(facts({ primary: primary({ versionNum: 169999 }) }))[0]).toMatch(/^warning: PostgreSQL 17\.2 has no failover slots/);
  });

  it('one host and no standby on 17: info, not a problem; a standby streaming but not named in database: a warning', () => {
    const alone = judgeFailover(facts({ hostCount: 1, primary: primary({ connectedStandbys: 0, synchronizedStandbySlots: [], physicalSlots: [] }), standbys: [] }));
    expect(alone.map((finding) => finding.level)).toEqual(['info']);
    expect(alone[0]!.text).toMatch(/^no standby configured/);
    // Nor is a slot without failover then: there is no standby to keep a copy.
    expect(problems(facts({ hostCount: 1, primary: primary({ connectedStandbys: 0, slot: { failover: false, confirmedFlushLsn: null } }), standbys: [] }))).toEqual([]);
    expect(problems(facts({ hostCount: 1, standbys: [] }))).toEqual([expect.stringMatching(/^warning: 1 standby\(s\) stream from master:5432, but database names only this host.*fix: name every host in database/)]);
  });

  it('the slot: missing is info (run creates it); failover = false is a warning with the statement', () => {
    expect(judgeFailover(facts({ primary: primary({ slot: null }) }))[0]).toMatchObject({ level: 'info', text: expect.stringContaining('does not exist yet') as string });
    expect(problems(facts({ primary: primary({ slot: { failover: false, confirmedFlushLsn: '0/1' } }) }))).toEqual([expect.stringMatching(/^warning: slot backuptools_slot on master:5432 has failover = false.*fix: .*ALTER_REPLICATION_SLOT backuptools_slot \(FAILOVER true\)$/)]);
  });

  it("synchronized_standby_slots: not naming the standby's slot (warning), naming a missing or lost slot (error), an inactive one (warning)", () => {
    expect(problems(facts({ primary: primary({ synchronizedStandbySlots: [] }) }))).toEqual([
      "warning: synchronized_standby_slots on master:5432 does not name replica1_slot (the physical slot of its standby): the backup can get ahead of the standby, and a promotion is then refused with SOURCE_TIMELINE_FORKED | fix: on master:5432: ALTER SYSTEM SET synchronized_standby_slots = 'replica1_slot'; SELECT pg_reload_conf();",
    ]);
    expect(problems(facts({ primary: primary({ synchronizedStandbySlots: ['replica1_slot', 'gone_slot'] }) }))).toEqual([expect.stringMatching(/^error: .* names gone_slot, which this primary does not have .*fix: on master:5432: ALTER SYSTEM SET synchronized_standby_slots = 'replica1_slot'/)]);
    expect(problems(facts({ primary: primary({ physicalSlots: [{ name: 'replica1_slot', active: false, walStatus: 'lost' }] }) }))[0]).toMatch(/^error: .* names replica1_slot, which is lost/);
    expect(problems(facts({ primary: primary({ physicalSlots: [{ name: 'replica1_slot', active: false, walStatus: 'reserved' }] }) }))[0]).toMatch(/^warning: .* names replica1_slot, whose standby is not connected: logical decoding waits for it/);
  });

  it('each standby setting missing is its own warning with its own fix', () => {
    const cases: [Partial<StandbyFacts['settings']>, RegExp][] = [
      [{ syncReplicationSlots: 'off' }, /sync_replication_slots is off.*fix: on replica:5432: ALTER SYSTEM SET sync_replication_slots = on; SELECT pg_reload_conf\(\);$/],
      [{ hotStandbyFeedback: 'off' }, /hot_standby_feedback is off.*fix: on replica:5432: ALTER SYSTEM SET hot_standby_feedback = on; SELECT pg_reload_conf\(\);$/],
      [{ primarySlotName: '' }, /primary_slot_name is not set.*fix: on replica:5432: ALTER SYSTEM SET primary_slot_name = 'replica1_slot'/],
      [{ primaryConninfo: 'host=master user=replicator' }, /primary_conninfo has no dbname.*dbname=storx'; SELECT pg_reload_conf\(\);$/],
      [{ walLevel: 'replica' }, /wal_level is replica.*fix: on replica:5432: ALTER SYSTEM SET wal_level = logical; then restart it$/],
      [{ primaryConninfo: null }, /primary_conninfo cannot be read by this user \(permission denied\), so dbname in it is not checked \| fix: on the primary \(the grant reaches the standby\): GRANT pg_read_all_settings TO "storx";/],
    ];
    for (const [settings, expected] of cases) {
      const found = problems(facts({ standbys: [standby({ conninfoError: settings.primaryConninfo === null ? 'permission denied' : null }, settings)] }));
      expect(found, JSON.stringify(settings)).toEqual([expect.stringMatching(new RegExp(`^warning: standby replica:5432: ${expected.source}`))]);
    }
  });

  it("the standby's copy of the slot: none, not synced, invalidated, temporary", () => {
    const copy = (slotCopy: StandbyFacts['slotCopy']): string[] => problems(facts({ standbys: [standby({ slotCopy })] }));
    expect(copy(null)).toEqual([expect.stringMatching(/^warning: standby replica:5432 holds no copy of slot backuptools_slot: promoting replica:5432 now stops the stream with SLOT_MISSING_AFTER_USE/)]);
    expect(copy({ synced: false, temporary: false, invalidationReason: null, confirmedFlushLsn: '0/1' })).toEqual([expect.stringMatching(/not a synced copy.*fix: on replica:5432: SELECT pg_drop_replication_slot\('backuptools_slot'\)/)]);
    expect(copy({ synced: true, temporary: false, invalidationReason: 'wal_removed', confirmedFlushLsn: '0/1' })).toEqual([expect.stringMatching(/copy of slot backuptools_slot is invalidated \(invalidation_reason = wal_removed\)/)]);
    expect(copy({ synced: true, temporary: true, invalidationReason: null, confirmedFlushLsn: null })).toEqual([expect.stringMatching(/is not persistent yet \(temporary\): it is dropped at promotion/)]);
  });

  it('hosts: one unreachable is a warning; none primary or two primaries is an error', () => {
    expect(problems(facts({ unreachable: [{ host: 'replica:5432', error: 'ECONNREFUSED' }], standbys: [] }))).toEqual([expect.stringMatching(/^warning: source host replica:5432 does not answer \(ECONNREFUSED\)/)]);
    expect(problems(facts({ primary: null }))).toEqual([expect.stringMatching(/^error: no source host is a primary \(replica:5432 is in recovery\)/)]);
    expect(problems(facts({ primary: null, extraPrimaries: ['a:1', 'b:2'], standbys: [] }))).toEqual([expect.stringMatching(/^error: 2 source hosts accept writes \(a:1, b:2\)/)]);
  });
});

describe('conninfoHasDbname', () => {
  it('keyword form and URIs', () => {
    expect(conninfoHasDbname('host=a dbname=storx')).toBe(true);
    expect(conninfoHasDbname("host=a dbname = 'my db'")).toBe(true);
    expect(conninfoHasDbname("host=a password='dbname=x'")).toBe(false);
    expect(conninfoHasDbname("host=a dbname=''")).toBe(false);
    expect(conninfoHasDbname('host=a user=b')).toBe(false);
    expect(conninfoHasDbname('postgresql://u@a:5432/storx')).toBe(true);
    expect(conninfoHasDbname('postgresql://u@a:5432?dbname=storx')).toBe(true);
    expect(conninfoHasDbname('postgresql://u@a:5432')).toBe(false);
  });
});
