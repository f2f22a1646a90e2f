import { execFile } from 'node:child_process';
import { appendFile, chown, cp, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { connect } from '../client.js';
import type { ClusterPaths } from './cluster-dir.js';
import type { RunAs } from './postgres-user.js';

const execFileAsync = promisify(execFile);

/** Directories whose contents a base backup leaves out (PostgreSQL's own list, "Backing Up the Data Directory"). */
const EMPTIED = ['pg_wal', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans'];
const LEFT_OUT = new Set(['postmaster.pid', 'postmaster.opts', 'standby.signal', 'recovery.signal', 'backup_label', 'tablespace_map']);

export interface BaseBackupOptions {
  /** Superuser URL of the primary. */
  primaryUrl: string;
  primaryDataDir: string;
  paths: ClusterPaths;
  runAs: RunAs | undefined;
  /** The standby's physical slot on the primary; created (reserving WAL at once) when missing. */
  slotName: string;
}

/**
 * PostgreSQL's documented low-level base backup ("Making a Base Backup Using the Low Level API"):
 * `pg_backup_start`, a file copy of the running primary, `pg_backup_stop`, whose label file
 * becomes `backup_label`. The embedded binaries have no pg_basebackup, and Debian's 15 cannot
 * copy a 17 server. The physical slot is created first with its WAL reserved, so the standby can
 * stream everything from the backup's start.
 */
export async function lowLevelBaseBackup({ primaryUrl, primaryDataDir, paths, runAs, slotName }: BaseBackupOptions): Promise<void> {
  const client = await connect(primaryUrl);
  client.on('error', () => undefined);
  try {
    await client.query('SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1)', [slotName]);
    // pg_backup_start and pg_backup_stop must run in the same session.
    await client.query("SELECT pg_backup_start('storx-test-standby', true)");
    await cp(primaryDataDir, paths.dataDir, {
      recursive: true,
      force: true,
      preserveTimestamps: true,
      filter: (source) => {
        const path = relative(primaryDataDir, source);
        if (path === '') return true;
        const [top, ...rest] = path.split(sep);
        if (rest.length === 0) return !LEFT_OUT.has(top!);
        // The directory stays (PostgreSQL needs it), its contents go; pg_wal keeps archive_status.
        return !EMPTIED.includes(top!) || (top === 'pg_wal' && path === join('pg_wal', 'archive_status'));
      },
    });
    const { rows } = await client.query<{ labelfile: string; spcmapfile: string | null }>('SELECT labelfile, spcmapfile FROM pg_backup_stop(true)');
    await writeFile(join(paths.dataDir, 'backup_label'), rows[0]!.labelfile);
    if (rows[0]!.spcmapfile) await writeFile(join(paths.dataDir, 'tablespace_map'), rows[0]!.spcmapfile);
  } finally {
    await client.end().catch(() => undefined);
  }
  if (runAs !== undefined) await execFileAsync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, paths.dataDir]);
}

export interface StandbySettings {
  primaryHost: string;
  primaryPort: number;
  user: string;
  password: string;
  slotName: string;
  applicationName: string;
  /** PostgreSQL 17 slot synchronization (failover slots); off: a standby without synced slots. */
  syncReplicationSlots: boolean;
}

/**
 * Standby mode as the documentation sets it up: `standby.signal`, and in postgresql.auto.conf
 * `primary_conninfo` (with `dbname`, which slot synchronization needs), `primary_slot_name`,
 * `hot_standby_feedback` and `sync_replication_slots`.
 */
export async function configureStandby(paths: ClusterPaths, runAs: RunAs | undefined, settings: StandbySettings): Promise<void> {
  const quote = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  const conninfo = `host=${settings.primaryHost} port=${settings.primaryPort} user=${settings.user} password=${settings.password} dbname=postgres application_name=${settings.applicationName}`;
  const autoConf = join(paths.dataDir, 'postgresql.auto.conf');
  await appendFile(
    autoConf,
    [
      `primary_conninfo = ${quote(conninfo)}`,
      `primary_slot_name = ${quote(settings.slotName)}`,
      'hot_standby_feedback = on',
      `sync_replication_slots = ${settings.syncReplicationSlots ? 'on' : 'off'}`,
      '',
    ].join('\n'),
  );
  const signal = join(paths.dataDir, 'standby.signal');
  await writeFile(signal, '');
  if (runAs !== undefined) {
    await chown(autoConf, runAs.uid, runAs.gid);
    await chown(signal, runAs.uid, runAs.gid);
  }
}
