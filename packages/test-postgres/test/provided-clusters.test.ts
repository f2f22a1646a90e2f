import { describe, expect, inject, it } from 'vitest';
import { createDatabase, parseConnectionUrl, withClient } from '../src/index.js';

const sourceUrl = inject('pgSourceUrl');
const backupUrl = inject('pgBackupUrl');

async function queryOne<T>(url: string, sql: string, values: unknown[] = []): Promise<T> {
  return withClient(url, async (client) => {
    const result = await client.query(sql, values);
    return result.rows[0] as T;
  });
}

describe('clusters provided by the global setup', () => {
  it('are two distinct clusters', async () => {
    const identifier = (url: string): Promise<{ id: string }> =>
      queryOne(url, 'SELECT system_identifier::text AS id FROM pg_control_system()');
    const [source, backup] = await Promise.all([identifier(sourceUrl), identifier(backupUrl)]);
    if (sourceUrl === backupUrl) {
      // Only possible when one STORX_TEST_DATABASE_URL serves both roles.
      expect(process.env['STORX_TEST_DATABASE_URL']).toBe(sourceUrl);
    } else {
      expect(source.id).not.toBe(backup.id);
    }
  });

  it.each([
    ['source', sourceUrl],
    ['backup', backupUrl],
  ])('%s has logical WAL and room for replication slots', async (_role, url) => {
    const settings = await queryOne<{ wal_level: string; slots: number; senders: number }>(
      url,
      `SELECT current_setting('wal_level') AS wal_level,
              current_setting('max_replication_slots')::int AS slots,
              current_setting('max_wal_senders')::int AS senders`,
    );
    expect(settings.wal_level).toBe('logical');
    expect(settings.slots).toBeGreaterThanOrEqual(10);
    expect(settings.senders).toBeGreaterThanOrEqual(10);
  });

  it('decodes changes through a pgoutput slot, which can be dropped again', async () => {
    const url = await createDatabase(sourceUrl, 'slot');
    const slot = `test_slot_${process.pid}`;
    await withClient(url, async (client) => {
      await client.query('CREATE TABLE item (id int PRIMARY KEY, label text)');
      await client.query('CREATE PUBLICATION test_pub FOR TABLE item');
      await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
      try {
        await client.query(`INSERT INTO item VALUES (1, 'one'), (2, 'two')`);
        const changes = await client.query<{ count: string }>(
          `SELECT count(*)::text AS count
             FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', 'test_pub')`,
          [slot],
        );
        // BEGIN, RELATION, two INSERTs, COMMIT.
        expect(Number(changes.rows[0]?.count)).toBeGreaterThanOrEqual(5);
      } finally {
        await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
      }
      const left = await client.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      expect(left.rowCount).toBe(0);
    });
  });

  it('createDatabase returns the URL of a new, usable database', async () => {
    const url = await createDatabase(backupUrl, 'Create DB-test');
    const { database } = parseConnectionUrl(url);
    expect(database).toMatch(/^create_db_test_[a-z0-9]+_[0-9a-f]{8}$/);
    const row = await withClient(url, async (client) => {
      await client.query('CREATE TABLE t (v text)');
      await client.query(`INSERT INTO t VALUES ('x')`);
      return (await client.query<{ db: string; v: string }>('SELECT current_database() AS db, v FROM t')).rows[0];
    });
    expect(row).toEqual({ db: database, v: 'x' });
  });
});
