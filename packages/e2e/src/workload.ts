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
  /**
   * Keep writing through a failover: a failed transaction (its outcome unknown, as for any
   * client) is followed by a reconnect to `sourceUrl()` as it is then. Off: the first error ends the run.
   */
  followFailover?: boolean;
}

/**
 * Concurrent writers, each in its own key range, running small transactions of inserts,
 * updates (some touching only small columns of a TOAST-able row) and deletes on all three
 * tables. Returns how many transactions committed.
 */
export async function runWorkload(sourceUrl: string | (() => string), options: WorkloadOptions): Promise<number> {
  const limits: Limits = { transactions: options.transactions, pauseMs: options.pauseMs ?? 0, signal: options.signal };
  const urlNow = typeof sourceUrl === 'string' ? () => sourceUrl : sourceUrl;
  const counts = await Promise.all(
    Array.from({ length: options.writers }, (_, writer) => (options.followFailover ? failoverWriterLoop(urlNow, writer, limits) : writerLoop(urlNow(), writer, limits, randomUUID(), 0))),
  );
  return counts.reduce((sum, count) => sum + count, 0);
}

/** `writerLoop` again after every failure, on the URL of the moment, until done. */
async function failoverWriterLoop(sourceUrl: () => string, writer: number, limits: Limits): Promise<number> {
  const project = randomUUID();
  let step = 0;
  while (step < limits.transactions && !limits.signal?.aborted) {
    try {
      step = await writerLoop(sourceUrl(), writer, limits, project, step);
    } catch (error) {
      // A new step number per attempt: a transaction whose COMMIT was lost never collides on keys.
      step = ((error as { step?: number }).step ?? step) + 1;
      await sleep(200);
    }
  }
  return step;
}

interface Limits {
  transactions: number;
  pauseMs: number;
  signal: AbortSignal | undefined;
}

async function writerLoop(sourceUrl: string, writer: number, { transactions, pauseMs, signal }: Limits, project: string, firstStep: number): Promise<number> {
  const client = await connect(sourceUrl);
  client.on('error', () => undefined); // a crashed server fails the query in flight; that is the error that counts
  // A fresh project per writer and run: runs and writers never collide on keys.
  let step = firstStep;
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
  } catch (error) {
    (error as { step?: number }).step = step;
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}
