import { parseLsn } from '@storx-backup/protocol';
import type { PostgresServer, RedisServer } from './topology-report.js';

/** The one server in `role`, by name (null when none or several: the judge says which). */
export function single<T extends { name: string; role: string | null }>(servers: readonly T[], role: T['role']): T | undefined {
  const found = servers.filter((server) => server.role === role);
  return found.length === 1 ? found[0] : undefined;
}

/** Fills each standby's replay lag in bytes against the primary's current WAL position. */
export function relateToPrimary(servers: PostgresServer[], primary: PostgresServer | undefined): void {
  if (primary?.current_wal_lsn == null) return;
  const current = parseLsn(primary.current_wal_lsn);
  for (const server of servers) {
    if (server.standby?.replay_lsn == null) continue;
    server.standby.replay_lag_bytes = Number(current - parseLsn(server.standby.replay_lsn));
  }
}

/** Fills each replica's lag in bytes against the master's offset (read a moment apart: may be < 0 → 0). */
export function relateRedisToMaster(servers: RedisServer[], master: RedisServer | undefined): void {
  if (master?.repl_offset == null) return;
  for (const server of servers) {
    if (server.link === null) continue;
    server.link.lag_bytes = Math.max(0, master.repl_offset - server.link.offset);
  }
}

/** The receiver's watermark behind the primary's current WAL position, in bytes. */
export function receiverLagBytes(primary: PostgresServer | undefined, watermark: string | null): number | null {
  if (primary?.current_wal_lsn == null || watermark === null) return null;
  return Math.max(0, Number(parseLsn(primary.current_wal_lsn) - parseLsn(watermark)));
}
