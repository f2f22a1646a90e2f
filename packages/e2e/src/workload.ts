import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '@storx-backup/test-postgres';

export interface WorkloadOptions {
  writers: number;
  /** Each writer stops after this many transactions, or earlier when `signal` aborts. */
  transactions: number;
  signal?: AbortSignal;
  /** A pause after each transaction, to spread a bounded workload over a scenario. */
  pauseMs?: number;
}

/**
 * Concurrent writers, each in its own key range, running small transactions of inserts,
 * updates (some touching only small columns of a TOAST-able row) and deletes on all three
 * tables. Returns how many transactions committed.
 */
export async function runWorkload(sourceUrl: string, options: WorkloadOptions): Promise<number> {
  const limits: Limits = { transactions: options.transactions, pauseMs: options.pauseMs ?? 0, signal: options.signal };
  const counts = await Promise.all(Array.from({ length: options.writers }, (_, writer) => writerLoop(sourceUrl, writer, limits)));
  return counts.reduce((sum, count) => sum + count, 0);
}

interface Limits {
  transactions: number;
  pauseMs: number;
  signal: AbortSignal | undefined;
}

async function writerLoop(sourceUrl: string, writer: number, { transactions, pauseMs, signal }: Limits): Promise<number> {
  const client = await connect(sourceUrl);
  // A fresh project per writer and run: runs and writers never collide on keys.
  const project = randomUUID();
  let step = 0;
  try {
    await client.query(`INSERT INTO toasty (id, big) VALUES ($1, (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 3000))) ON CONFLICT DO NOTHING`, [writer]);
    while (step < transactions && !signal?.aborted) {
      step += 1;
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO objects (project_id, bucket_name, object_key, version, encrypted_metadata, total_plain_size, total_encrypted_size)
         SELECT $1, 'bucket', int8send($2::bigint * 100 + g), 1, decode(md5(g::text), 'hex'), g, g * 1000000000000 FROM generate_series(1, 5) g`,
        [project, step],
      );
      await client.query('INSERT INTO segments (stream_id, position, encrypted_key, plain_size) VALUES (gen_random_uuid(), $1::bigint, $2, $1::integer)', [step, Buffer.from([0, step % 256, 255])]);
      if (step % 3 === 0) await client.query("UPDATE objects SET status = 2, expires_at = clock_timestamp() + interval '1 day' WHERE project_id = $1 AND object_key = int8send($2::bigint)", [project, (step - 1) * 100 + 1]);
      if (step % 5 === 0) await client.query('DELETE FROM objects WHERE project_id = $1 AND object_key = int8send($2::bigint)', [project, (step - 2) * 100 + 2]);
      if (step % 4 === 0) await client.query('UPDATE toasty SET counter = counter + 1 WHERE id = $1', [writer]);
      await client.query('COMMIT');
      if (pauseMs > 0) await sleep(pauseMs);
    }
    return step;
  } finally {
    await client.end();
  }
}
