import { describe, expect, it } from 'vitest';
import { judgeTopology, topologyLevel } from '../src/topology/judge-topology.js';
import { receiverLagBytes, relateRedisToMaster, relateToPrimary } from '../src/topology/relate-servers.js';
import type { PostgresServer, RedisServer, StandbyState, TopologyReport } from '../src/topology/topology-report.js';

// The standby cases of the topology view, judged from what the servers would report. The same
// cases on real servers: failover-readiness.test.ts (a PostgreSQL primary and standby) and
// topology.test.ts (the slot, the receiver, Redis).

const LIMITS = { maxLagSeconds: 30 };

function primary(overrides: Partial<PostgresServer> = {}): PostgresServer {
  return { name: 'master:5432', reachable: true, error: null, role: 'primary', current_wal_lsn: '0/3000000', standbys: [{ application_name: 'replica1', client_addr: '10.0.0.2', state: 'streaming', sync_state: 'async', replay_lsn: '0/3000000', replay_lag_bytes: 0, replay_lag_seconds: null }], physical_slots: [{ name: 'replica1_slot', active: true, wal_status: 'reserved', retained_bytes: 0 }], standby: null, ...overrides };
}
function standby(state: Partial<StandbyState> = {}): PostgresServer {
  return { name: 'replica:5432', reachable: true, error: null, role: 'standby', current_wal_lsn: null, standbys: [], physical_slots: [], standby: { receiver_status: 'streaming', upstream: 'master:5432', receive_lsn: '0/3000000', replay_lsn: '0/2000000', replay_lag_bytes: null, replay_lag_seconds: 0, ...state } };
}
function report(servers: PostgresServer[], redis: RedisServer[] = []): Omit<TopologyReport, 'status' | 'exit_code' | 'problems'> {
  return {
    checked_at: '',
    postgres: { primary: null, servers },
    logical: { slot: {} as TopologyReport['logical']['slot'], receiver: {} as TopologyReport['logical']['receiver'], receiver_lag_bytes: null },
    redis: { checked: redis.length > 0, master: null, servers: redis },
  };
}
const judge = (servers: PostgresServer[]): { status: string; messages: string[] } => {
  const problems = judgeTopology(report(servers), [], LIMITS);
  return { status: topologyLevel(problems).status, messages: problems.map((problem) => `${problem.severity}: ${problem.message}`) };
};

describe('judgeTopology: PostgreSQL standbys', () => {
  it('a streaming standby within the limit is ok; its lag in bytes is measured against the primary', () => {
    const servers = [primary(), standby()];
    relateToPrimary(servers, servers[0]);
    expect(servers[1]!.standby!.replay_lag_bytes).toBe(0x1000000);
    expect(judge(servers)).toEqual({ status: 'ok', messages: [] });
  });

  it('replay lag over the limit is a warning; on an idle primary (nothing to replay) there is no lag', () => {
    expect(judge([primary(), standby({ replay_lag_seconds: 31 })])).toEqual({ status: 'warning', messages: ['warning: standby replica:5432 replays 31 s behind (limit 30 s)'] });
    expect(judge([primary(), standby({ replay_lag_seconds: 0 })]).status).toBe('ok');
    // The primary's pg_stat_replication speaks when the standby's own view cannot (no commit
    // replayed since its start) or was not given; never twice for one lag.
    const lagging = primary({ standbys: [{ application_name: 'replica1', client_addr: '10.0.0.2', state: 'streaming', sync_state: 'async', replay_lsn: '0/2000000', replay_lag_bytes: 0x1000000, replay_lag_seconds: 42.4 }] });
    expect(judge([lagging])).toEqual({ status: 'warning', messages: ["warning: standby replica1 (10.0.0.2) replays 42 s behind, by master:5432's pg_stat_replication (limit 30 s)"] });
    expect(judge([lagging, standby({ replay_lag_seconds: null })]).messages).toEqual(["warning: standby replica1 (10.0.0.2) replays 42 s behind, by master:5432's pg_stat_replication (limit 30 s)"]);
    expect(judge([lagging, standby({ replay_lag_seconds: 40 })]).messages).toEqual(['warning: standby replica:5432 replays 40 s behind (limit 30 s)']);
  });

  it('a standby whose WAL receiver is not streaming, and a primary without its standby, are critical', () => {
    expect(judge([primary({ standbys: [] }), standby({ receiver_status: null })]).messages).toEqual([
      'critical: standby replica:5432 is not streaming (WAL receiver not running)',
      'critical: primary master:5432 has no standby connected',
    ]);
  });

  it('a standby catching up is a warning; an inactive physical slot a warning, a lost one critical', () => {
    const catchingUp = primary({ standbys: [{ ...primary().standbys[0]!, state: 'catchup' }] });
    expect(judge([catchingUp, standby()]).messages).toEqual(['warning: standby replica1 (10.0.0.2) is catchup, not streaming']);
    expect(judge([primary({ physical_slots: [{ name: 's', active: false, wal_status: 'extended', retained_bytes: 5 }] })]).messages).toEqual(['warning: physical slot s is not in use: it keeps WAL (5 bytes) until its standby returns']);
    expect(judge([primary({ physical_slots: [{ name: 's', active: false, wal_status: 'lost', retained_bytes: null }] })]).messages).toEqual(['critical: physical slot s is lost (WAL it needed was removed)']);
  });

  it('no primary at all (both standbys: the primary died and nobody promoted) is critical', () => {
    expect(judge([standby(), { ...standby(), name: 'other:5432' }]).messages[0]).toBe('critical: no PostgreSQL primary among the servers: nothing takes writes');
  });
});

describe('the lag arithmetic', () => {
  it('Redis: the master offset minus the replica offset, never negative (read a moment apart)', () => {
    const master = { name: 'm', role: 'master', repl_offset: 1000, link: null } as RedisServer;
    const replica = { name: 'r', role: 'replica', link: { offset: 900, lag_bytes: null } } as unknown as RedisServer;
    const ahead = { name: 'a', role: 'replica', link: { offset: 1200, lag_bytes: null } } as unknown as RedisServer;
    relateRedisToMaster([master, replica, ahead], master);
    expect(replica.link!.lag_bytes).toBe(100);
    expect(ahead.link!.lag_bytes).toBe(0);
  });

  it("the receiver: the primary's WAL position minus its watermark (64-bit LSNs)", () => {
    expect(receiverLagBytes(primary({ current_wal_lsn: '1/0' }), '0/FFFFFF00')).toBe(256);
    expect(receiverLagBytes(primary(), null)).toBeNull();
    expect(receiverLagBytes(undefined, '0/1')).toBeNull();
  });
});
