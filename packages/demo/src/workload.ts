import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { connect } from '@storx-backup/test-postgres';

/** What the workload has written so far; read at any time (the progress bar does). */
export interface WorkloadCounts {
  inserted: number;
  updated: number;
  deleted: number;
  transactions: number;
}

export function rowsWritten(counts: WorkloadCounts): number {
  return counts.inserted + counts.updated + counts.deleted;
}

type Operation = 'upload' | 'repair' | 'metadata' | 'extend' | 'delete';

/** Below this many live objects a writer only uploads, so updates and deletes have targets. */
const MIN_LIVE_OBJECTS = 50;
const MAX_OBJECTS_PER_TRANSACTION = 8;

/**
 * A satellite's traffic on `objects` and `segments`: uploads (an object and its one to three
 * segments in one transaction), segment repairs, metadata updates, expiry changes (which leave a
 * large out-of-line metadata value untouched: TOAST's "unchanged" case) and deletes of an object
 * with its segments. `writers` connections run concurrently, each on its own objects, until
 * `rows` row changes are committed or `signal` aborts.
 */
export class Workload {
  readonly counts: WorkloadCounts = { inserted: 0, updated: 0, deleted: 0, transactions: 0 };
  readonly #run = randomBytes(4).toString('hex');

  constructor(
    private readonly url: string,
    private readonly rows: number,
    private readonly writers: number,
  ) {}

  async run(signal: AbortSignal): Promise<WorkloadCounts> {
    await Promise.all(Array.from({ length: this.writers }, (_, index) => this.#writer(index, signal)));
    return this.counts;
  }

  async #writer(index: number, signal: AbortSignal): Promise<void> {
    const client = await connect(this.url);
    // The server going away (Ctrl-C stops it) also fails the query in flight, which is where it
    // is handled; the duplicate event must not crash the process.
    client.on('error', () => undefined);
    const objects = new WriterObjects(`${this.#run}/${index}/`, randomUUID());
    try {
      while (rowsWritten(this.counts) < this.rows && !signal.aborted) {
        const operation = objects.chooseOperation();
        const count = 1 + Math.floor(Math.random() * MAX_OBJECTS_PER_TRANSACTION);
        await this.#commit(client, objects.transaction(operation, count));
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async #commit(client: pg.Client, statements: string[]): Promise<void> {
    // One round trip per transaction: the statements hold only literals we generated.
    const result = (await client.query(['BEGIN', ...statements, 'COMMIT'].join(';\n'))) as unknown as pg.QueryResult[];
    for (const { command, rowCount } of result) {
      if (command === 'INSERT') this.counts.inserted += rowCount ?? 0;
      else if (command === 'UPDATE') this.counts.updated += rowCount ?? 0;
      else if (command === 'DELETE') this.counts.deleted += rowCount ?? 0;
    }
    this.counts.transactions += 1;
  }
}

/**
 * One writer's objects: numbered 1, 2, 3, ...; every key is derived in SQL from the number, so
 * the writer only remembers which numbers are live. Objects `n` has `1 + n % 3` segments.
 */
class WriterObjects {
  readonly #live: number[] = [];
  #next = 1;

  constructor(
    private readonly prefix: string,
    private readonly project: string,
  ) {}

  chooseOperation(): Operation {
    if (this.#live.length < MIN_LIVE_OBJECTS) return 'upload';
    const roll = Math.random();
    if (roll < 0.5) return 'upload';
    if (roll < 0.7) return 'repair';
    if (roll < 0.8) return 'metadata';
    if (roll < 0.9) return 'extend';
    return 'delete';
  }

  transaction(operation: Operation, count: number): string[] {
    switch (operation) {
      case 'upload': {
        const first = this.#next;
        this.#next += count;
        for (let n = first; n < this.#next; n++) this.#live.push(n);
        return this.#upload(first, this.#next - 1);
      }
      case 'repair':
        return [
          `UPDATE segments SET repaired_at = clock_timestamp(), root_piece_id = ${randomBytesSql(32)}, remote_alias_pieces = ${randomBytesSql(58)}
           WHERE stream_id IN (SELECT ${this.#streamId('n')} FROM unnest(${this.#sample(count)}) n)`,
        ];
      case 'metadata':
        return [
          `UPDATE objects o SET encrypted_metadata_nonce = ${randomBytesSql(24)}, encrypted_metadata = ${randomBytesSql(120)}, encrypted_metadata_encrypted_key = ${randomBytesSql(48)}
           FROM (${this.#objectKeys(this.#sample(count))}) k ${OBJECT_KEY_MATCH}`,
        ];
      case 'extend':
        return [`UPDATE objects o SET expires_at = clock_timestamp() + interval '30 days' FROM (${this.#objectKeys(this.#sample(count))}) k ${OBJECT_KEY_MATCH}`];
      case 'delete': {
        const numbers = this.#take(count);
        return [
          `DELETE FROM segments WHERE stream_id IN (SELECT ${this.#streamId('n')} FROM unnest(${numbers}) n)`,
          `DELETE FROM objects o USING (${this.#objectKeys(numbers)}) k ${OBJECT_KEY_MATCH}`,
        ];
      }
    }
  }

  #upload(first: number, last: number): string[] {
    // One in ten objects has 3 kB of encrypted metadata: stored out of line (TOAST), so an
    // UPDATE that does not touch it sends it as "unchanged", which must stay unchanged.
    return [
      `INSERT INTO objects (project_id, bucket_name, object_key, version, stream_id, created_at, status, segment_count,
         encrypted_metadata_nonce, encrypted_metadata, encrypted_metadata_encrypted_key,
         total_plain_size, total_encrypted_size, fixed_segment_size, encryption)
       SELECT ${this.#projectId()}, ${BUCKET('n')}, ${this.#objectKey('n')}, 1, ${this.#streamId('n')}, clock_timestamp(), 3, 1 + n % 3,
         ${randomBytesSql(24)}, CASE WHEN n % 10 = 0 THEN ${randomBytesSql(3000, 'n')} ELSE ${randomBytesSql(120)} END, ${randomBytesSql(48)},
         (1 + n % 3) * 64000000 - n % 65536, (1 + n % 3) * 67108864, 67108864, 8589934593
       FROM generate_series(${first}::int8, ${last}::int8) n`,
      `INSERT INTO segments (stream_id, position, created_at, root_piece_id, encrypted_key_nonce, encrypted_key,
         encrypted_size, plain_offset, plain_size, redundancy, remote_alias_pieces, placement)
       SELECT ${this.#streamId('n')}, s, clock_timestamp(), ${randomBytesSql(32)}, ${randomBytesSql(24)}, ${randomBytesSql(48)},
         67108864, s * 64000000, 64000000 - n % 65536, 1229782938247303441, ${randomBytesSql(58)}, 0
       FROM generate_series(${first}::int8, ${last}::int8) n, generate_series(0, n % 3) s`,
    ];
  }

  /** Up to `count` distinct live objects, as an int8[] literal. */
  #sample(count: number): string {
    const picked = new Set<number>();
    for (let attempt = 0; attempt < count * 2 && picked.size < count; attempt++) {
      picked.add(this.#live[Math.floor(Math.random() * this.#live.length)]!);
    }
    return intArray([...picked]);
  }

  /** Removes up to `count` random live objects and returns them as an int8[] literal. */
  #take(count: number): string {
    const taken: number[] = [];
    while (taken.length < count && this.#live.length > 0) {
      const index = Math.floor(Math.random() * this.#live.length);
      taken.push(this.#live[index]!);
      this.#live[index] = this.#live[this.#live.length - 1]!;
      this.#live.pop();
    }
    return intArray(taken);
  }

  #key(n: string): string {
    return `'${this.prefix}' || ${n}`;
  }

  #projectId(): string {
    return `uuid_send('${this.project}'::uuid)`;
  }

  #objectKey(n: string): string {
    return `sha256(convert_to(${this.#key(n)}, 'UTF8'))`;
  }

  #streamId(n: string): string {
    return `uuid_send(md5(${this.#key(n)})::uuid)`;
  }

  #objectKeys(numbers: string): string {
    return `SELECT ${this.#projectId()} AS project_id, ${BUCKET('n')} AS bucket_name, ${this.#objectKey('n')} AS object_key FROM unnest(${numbers}) n`;
  }
}

const BUCKET = (n: string): string => `convert_to('bucket-' || ${n} % 4, 'UTF8')`;
const OBJECT_KEY_MATCH = 'WHERE o.project_id = k.project_id AND o.bucket_name = k.bucket_name AND o.object_key = k.object_key AND o.version = 1';

function intArray(numbers: readonly number[]): string {
  return `'{${numbers.join(',')}}'::int8[]`;
}

/**
 * `length` random bytes, new for every row. Random, hence incompressible: a long one is stored
 * out of line. `correlate` names a column of the row so that PostgreSQL cannot evaluate a
 * subquery once for the whole statement.
 */
function randomBytesSql(length: number, correlate?: string): string {
  const uuids = Math.ceil(length / 16);
  if (correlate === undefined && uuids <= 8) {
    const parts = Array.from({ length: uuids }, () => 'uuid_send(gen_random_uuid())').join(' || ');
    return `substr(${parts}, 1, ${length})`;
  }
  const bound = correlate === undefined ? `${uuids}` : `${uuids} + 0 * ${correlate}`;
  return `(SELECT substr(string_agg(uuid_send(gen_random_uuid()), ''::bytea), 1, ${length}) FROM generate_series(1, ${bound}))`;
}
