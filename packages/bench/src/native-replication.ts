import type pg from 'pg';
import { waitFor } from '@storx-backup/test-postgres';
import { qualified, type BenchTable } from './schema.js';

/** Where the backup server's subscription connects: the source database, as libpq conninfo. */
export interface PublisherConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/**
 * PostgreSQL's own logical replication, the yardstick: a publication on the source and a
 * subscription in the native target database (`copy_data = false`: only changes). Created
 * disabled; `start()` and `stop()` enable and disable it, so it never runs while ours does.
 * Every setting is PostgreSQL's default (text format, `streaming = off`, the subscription's
 * `synchronous_commit = off`).
 */
export class NativeReplication {
  private constructor(
    private readonly source: pg.Client,
    private readonly target: pg.Client,
    readonly subscription: string,
  ) {}

  /** The subscription's slot on the source has the subscription's name. */
  get slot(): string {
    return this.subscription;
  }

  static async create(source: pg.Client, target: pg.Client, publisher: PublisherConnection, tables: readonly BenchTable[], name = 'bench_native'): Promise<NativeReplication> {
    await source.query(`CREATE PUBLICATION ${name}_pub FOR TABLE ${tables.map(qualified).join(', ')}`);
    await target.query(
      `CREATE SUBSCRIPTION ${name} CONNECTION '${conninfo(publisher)}' PUBLICATION ${name}_pub
       WITH (copy_data = false, create_slot = true, slot_name = '${name}', enabled = false)`,
    );
    return new NativeReplication(source, target, name);
  }

  /** Enables the subscription: its apply worker starts streaming from the slot. */
  async start(): Promise<void> {
    await this.target.query(`ALTER SUBSCRIPTION ${this.subscription} ENABLE`);
  }

  /** Waits until the source's WAL sender for the subscription is streaming (live runs start the load then). */
  async waitStreaming(): Promise<void> {
    await waitFor(
      async () => {
        const { rows } = await this.source.query<{ state: string }>('SELECT state FROM pg_stat_replication WHERE application_name = $1', [this.subscription]);
        return rows[0]?.state === 'streaming';
      },
      { description: `subscription ${this.subscription} to stream`, timeoutMs: 120_000, intervalMs: 10 },
    );
  }

  /** Disables the subscription and waits until its slot is released on the source. */
  async stop(): Promise<void> {
    await this.target.query(`ALTER SUBSCRIPTION ${this.subscription} DISABLE`);
    await waitFor(
      async () => {
        const { rows } = await this.source.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [this.slot]);
        return rows[0]?.active === false;
      },
      { description: `slot ${this.slot} to be released`, timeoutMs: 120_000, intervalMs: 10 },
    );
  }

  /** Something that changes whenever the subscriber applies a transaction (for the stall detector). */
  async progress(): Promise<string> {
    const { rows } = await this.target.query<{ lsn: string | null }>(
      `SELECT remote_lsn::text AS lsn FROM pg_replication_origin_status s
       JOIN pg_subscription sub ON s.external_id = 'pg_' || sub.oid WHERE sub.subname = $1`,
      [this.subscription],
    );
    return rows[0]?.lsn ?? '';
  }
}

/**
 * Initial copy (workload g): a fresh subscription with `copy_data = true` on a publication of
 * one table. Resolves with the seconds from CREATE SUBSCRIPTION (which creates the slot) until
 * the table's synchronization is done, then drops the subscription and its slot.
 */
export async function nativeInitialCopy(source: pg.Client, target: pg.Client, publisher: PublisherConnection, table: BenchTable, name = 'bench_native_copy'): Promise<number> {
  await source.query(`CREATE PUBLICATION ${name}_pub FOR TABLE ${qualified(table)}`);
  try {
    const started = performance.now();
    await target.query(`CREATE SUBSCRIPTION ${name} CONNECTION '${conninfo(publisher)}' PUBLICATION ${name}_pub WITH (copy_data = true, create_slot = true, slot_name = '${name}')`);
    try {
      // 's' (synchronized) and 'r' (ready) both mean the copy is committed and caught up.
      await waitFor(
        async () => {
          const { rows } = await target.query<{ pending: string }>(
            `SELECT count(*) FILTER (WHERE srsubstate NOT IN ('s', 'r'))::text AS pending
             FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = $1`,
            [name],
          );
          return rows[0]?.pending === '0';
        },
        { description: `initial copy of ${table}`, timeoutMs: 3_600_000, intervalMs: 10 },
      );
      return (performance.now() - started) / 1000;
    } finally {
      await target.query(`DROP SUBSCRIPTION ${name}`);
    }
  } finally {
    await source.query(`DROP PUBLICATION ${name}_pub`);
  }
}

function conninfo({ host, port, user, password, database }: PublisherConnection): string {
  const value = (text: string): string => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  // Inside a SQL string literal: double the single quotes of the conninfo's own quoting.
  return `host=${value(host)} port=${port} user=${value(user)} password=${value(password)} dbname=${value(database)}`.replaceAll("'", "''");
}
