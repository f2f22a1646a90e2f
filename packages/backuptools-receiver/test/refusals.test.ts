// A batch refused for good blocks its source: the receiver records the refusal outside the
// rolled-back apply, so its own `status`, its metrics and its ping reply say so without asking
// the replicator, and forgets it as soon as a batch of that source applies.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Relation } from '@storx-backup/protocol';
import { type CapturedRun, captureRun } from '@storx-backup/service-kit';
import { main } from '../src/cli.js';
import { batchOf, signedRequest, STATE_SCHEMA, testReceiver, type TestReceiver } from './support.js';

const SCHEMA = 'refusals';
const MOODS: Relation = {
  schema: SCHEMA,
  table: 'moves',
  replica_identity: 'default',
  columns: [
    { name: 'id', type: 'integer', not_null: true },
    { name: 'mood', type: `"${SCHEMA}".mood`, not_null: false },
  ],
  key_columns: ['id'],
};
const SOURCE = 'refused-source';

let receiver: TestReceiver;
beforeAll(async () => {
  receiver = await testReceiver({ tables: [`${SCHEMA}.moves`] });
});
afterAll(async () => {
  await receiver.close();
});

const status = (): Promise<CapturedRun> => captureRun(main, ['status', '--json', '--database-url', receiver.url, '--state-schema', STATE_SCHEMA]);
const ping = async (): Promise<Record<string, unknown>> =>
  (await receiver.app.inject(await signedRequest({ ...batchOf([], [], { sourceId: SOURCE, commitLsn: '0/0' }), relations: [] }, receiver.keys))).json();
const blockedGauge = async (): Promise<string> => (await receiver.app.metrics.registry.getSingleMetricAsString('backuptools_source_blocked')).split('\n').filter((line) => !line.startsWith('#')).join('\n');

describe('a refused batch blocks its source, visibly', () => {
  const refused = batchOf([MOODS], [{ operation: 'INSERT', data: { id: '1', mood: 'happy' }, old_data: null, unchanged_toast: [] }], { sourceId: SOURCE });

  it('is recorded (outside the rolled-back apply), in the ping reply, the gauge and status, and survives a restart', async () => {
    await sql`CREATE SCHEMA ${sql.id(SCHEMA)}`.execute(receiver.db);
    const first = await receiver.app.inject(await signedRequest(refused, receiver.keys));
    expect(first.statusCode).toBe(422);
    expect(first.json()).toMatchObject({ error: 'TABLE_INCOMPATIBLE' });
    // The apply rolled back (no table created, no watermark moved) but the refusal stayed.
    expect((await sql<{ t: string | null }>`SELECT to_regclass('refusals.moves')::text AS t`.execute(receiver.db)).rows[0]!.t).toBeNull();
    const recorded = await sql<{ code: string; http_status: number; commit_lsn: string; attempts: string; first_refused_at: Date }>`
      SELECT code, http_status, commit_lsn::text, attempts::text, first_refused_at FROM ${sql.id(STATE_SCHEMA, 'refusals')} WHERE source_id = ${SOURCE}`.execute(receiver.db);
    expect(recorded.rows).toEqual([expect.objectContaining({ code: 'TABLE_INCOMPATIBLE', http_status: 422, commit_lsn: refused.commit_lsn, attempts: '1' })]);
    const since = recorded.rows[0]!.first_refused_at.toISOString();

    // The same batch again: one more attempt, still blocked since the first.
    expect((await receiver.app.inject(await signedRequest(refused, receiver.keys))).statusCode).toBe(422);
    const reply = await ping();
    expect(reply).toMatchObject({ status: 'ping', watermark: null, refusal: { code: 'TABLE_INCOMPATIBLE', http_status: 422, commit_lsn: refused.commit_lsn, chunk_index: 0, since, attempts: 2 } });
    expect((reply['refusal'] as { fix: string }).fix).toContain('create missing types');
    expect(await blockedGauge()).toBe(`backuptools_source_blocked{source_id="${SOURCE}",slot="backuptools_slot",code="TABLE_INCOMPATIBLE"} 1`);

    const run = await status();
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({
      status: 'error',
      sources: [{ source_id: SOURCE, status: 'blocked', watermark_lsn: null, blocked: { code: 'TABLE_INCOMPATIBLE', since, attempts: 2, commit_lsn: refused.commit_lsn } }],
    });
    const human = await captureRun(main, ['status', '--database-url', receiver.url, '--state-schema', STATE_SCHEMA]);
    expect(human.code).toBe(2);
    expect(human.stdout).toContain(`✗ ${SOURCE} (slot backuptools_slot)`);
    expect(human.stdout).toContain(`blocked since ${since}: the batch at ${refused.commit_lsn} (chunk 0) was refused 2 times with HTTP 422 TABLE_INCOMPATIBLE`);
    expect(human.stdout).toMatch(/fix: make the backup table match the source/);

    // A receiver started later on the same database exports the blockage too.
    const restarted = await testReceiver({ databaseUrl: receiver.url, tables: [`${SCHEMA}.moves`] });
    try {
      expect((await restarted.app.metrics.registry.getSingleMetricAsString('backuptools_source_blocked'))).toContain(`source_id="${SOURCE}"`);
    } finally {
      await restarted.close();
    }
  });

  it('clears once the cause is fixed and the batch applies', async () => {
    await sql`CREATE TYPE ${sql.id(SCHEMA, 'mood')} AS ENUM ('sad', 'happy')`.execute(receiver.db);
    const applied = await receiver.app.inject(await signedRequest(refused, receiver.keys));
    expect(applied.json()).toMatchObject({ status: 'applied' });
    expect((await sql<{ n: string }>`SELECT count(*)::text AS n FROM ${sql.id(STATE_SCHEMA, 'refusals')}`.execute(receiver.db)).rows[0]!.n).toBe('0');
    expect((await ping())['refusal']).toBeNull();
    expect(await blockedGauge()).toBe('');
    const run = await status();
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'ok', sources: [{ source_id: SOURCE, status: 'ok', blocked: null, watermark_lsn: refused.commit_lsn }] });
  });

  it('a refusal recorded by another receiver process is stale once its source applied later', async () => {
    // Another process refused this source, then this one applied a newer batch without knowing.
    await sql`INSERT INTO ${sql.id(STATE_SCHEMA, 'refusals')} (source_id, slot, code, http_status, message, last_refused_at, first_refused_at)
              VALUES (${SOURCE}, 'backuptools_slot', 'APPLY_REJECTED', 422, 'elsewhere', now() - interval '1 hour', now() - interval '1 hour')`.execute(receiver.db);
    expect((await status()).code).toBe(0);
    expect((await ping())['refusal']).toBeNull();
  });
});
