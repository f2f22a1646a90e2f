/**
 * Errors that stop the replicator, each with the fix an operator applies (the seed's
 * troubleshooting words where the seed has them). docs/errors.md lists them; a test keeps the
 * two in step.
 */
export const REPLICATOR_ERRORS = {
  WAL_LEVEL_NOT_LOGICAL: { fix: 'ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL' },
  REPLICATION_PERMISSION_DENIED: { fix: 'ALTER USER your_user WITH REPLICATION;' },
  REPLICATION_CAPACITY: { fix: 'ALTER SYSTEM SET max_replication_slots = 10; ALTER SYSTEM SET max_wal_senders = 10; then restart PostgreSQL (or free a slot or WAL sender nothing uses)' },
  RELATION_DOES_NOT_EXIST: { fix: "check the schema path in the connection string (options=--search_path%3D...), verify the tables exist in that schema, and GRANT SELECT on them" },
  TABLE_PRIVILEGE_MISSING: { fix: 'GRANT USAGE ON SCHEMA <the schema> TO your_user; GRANT SELECT ON ALL TABLES IN SCHEMA <the schema> TO your_user; ("storx-replicator doctor" prints the exact statements)' },
  TABLE_WITHOUT_IDENTITY: { fix: 'give the table a primary key, or ALTER TABLE ... REPLICA IDENTITY FULL' },
  TABLE_PARTITIONED: { fix: 'list the partitions in replication.tables (and on the receiver), not the partitioned table' },
  PUBLICATION_MISSING: { fix: "create the publication as the tables' owner: the fix printed with the error has the exact CREATE PUBLICATION statement (or GRANT CREATE ON DATABASE when the user owns the tables)" },
  PUBLICATION_MISMATCH: { fix: 'let the replicator own the publication (it must be able to ALTER it), or make its tables match replication.tables' },
  SLOT_WRONG_PLUGIN: { fix: 'drop the slot (SELECT pg_drop_replication_slot(...)) or choose another replication.slot-name; the replicator needs a pgoutput slot in this database' },
  SLOT_LOST: { fix: 'the slot no longer holds the WAL the backup needs: resnapshot: drop the slot (SELECT pg_drop_replication_slot(...)), set a new replication.slot-name, start run: it creates that slot and copies every table again (docs/operations.md, "slot lost")' },
  SLOT_MISSING_AFTER_USE: { fix: 'the slot vanished (failover to a replica without it?) while the receiver has applied changes: resnapshot: set a new replication.slot-name and start run, it creates that slot and copies every table again; never recreate the same slot silently' },
  SOURCE_SYSTEM_MISMATCH: { fix: 'the receiver holds data from another PostgreSQL cluster under this source-id and slot: point database back at that cluster (or one of its standbys), or give this one its own replication.source-id' },
  SOURCE_TIMELINE_FORKED: { fix: 'this server forked from the history the backup holds: an old primary after a failover must not be replicated (stop it; rebuild it as a standby with scripts/init-replica.sh and drop its copy of the slot); a standby promoted before it had what the backup holds needs a resnapshot (docs/operations.md, "failover")' },
  COPY_NOT_POSSIBLE: { fix: 'see the message: snapshot and resync need format v2, an existing slot that no running replicator holds (stop the service first), and tables from replication.tables' },
  VERIFY_NOT_POSSIBLE: { fix: 'see the message: verify needs format v3 or v2 (not seed-v1), the replication slot, "run" streaming (the backup must reach the source position), and a receiver with POST /verify that accepts our keys' },
  VALUE_NOT_UTF8: { fix: 'rewrite the value on the source as valid UTF-8 (the message names the table and column), or convert the database to UTF8 (dump and restore into a database created with ENCODING UTF8); then start run again: the slot still holds the change' },
  KEY_PROBLEM: { fix: 'see the message: the key file must exist, be readable and be PEM' },
} as const satisfies Record<string, { fix: string }>;

export type ReplicatorErrorCode = keyof typeof REPLICATOR_ERRORS;

export class ReplicatorError extends Error {
  override readonly name = 'ReplicatorError';
  /** The fix in one line (logs, /healthz). */
  readonly fix: string;
  /** The fix as the command line prints it, one line each. */
  readonly fixLines: readonly string[];

  /**
   * `options.fix`: the exact fix for this case (SQL naming the real user, schema and table), one
   * line each, instead of the code's general fix documented in docs/errors.md.
   */
  constructor(
    readonly code: ReplicatorErrorCode,
    message: string,
    options: { cause?: unknown; fix?: readonly string[] } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.fixLines = options.fix === undefined || options.fix.length === 0 ? [REPLICATOR_ERRORS[code].fix] : [...options.fix];
    this.fix = this.fixLines.join('; ');
  }
}
