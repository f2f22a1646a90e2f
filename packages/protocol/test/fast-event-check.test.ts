// The hot-path event check must never accept what the zod schema refuses: thousands of random
// mutations of a valid batch, each judged by both. It must also accept the valid batch, or it
// would be a slow path in disguise.
import { describe, expect, it } from 'vitest';
import { type Batch, batchSchema } from '../src/batch.js';
import { eventsPassFastCheck } from '../src/fast-event-check.js';
import { sampleBatch } from './fixtures.js';

const STRANGE_VALUES: unknown[] = [null, undefined, '', 'x', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 0, -1, 1.5, 2 ** 53, '0/0', 'FFFFFFFF/FFFFFFFF', '16/B374D9A1', true, [], ['note'], ['nope'], {}, { note: 'x' }, { nope: 'x' }, { note: 1 }, 'satellite/0', 'objects', 'other', 'a\0b'];

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}

/** Sets, deletes or adds a random field of a random event (or of its data/old_data). */
function mutate(batch: Batch): Batch {
  const copy = structuredClone(batch) as unknown as { events: Record<string, unknown>[] };
  const event = pick(copy.events);
  const target = Math.random() < 0.3 && typeof event['data'] === 'object' && event['data'] !== null ? (event['data'] as Record<string, unknown>) : event;
  const key = pick([...Object.keys(target), 'extra', 'note', 'project_id']);
  const action = Math.random();
  if (action < 0.2) delete target[key];
  else target[key] = structuredClone(pick(STRANGE_VALUES));
  return copy as unknown as Batch;
}

describe('fast event check', () => {
  it('accepts the valid batches zod accepts (so the fast path is taken)', () => {
    for (const batch of [sampleBatch(), sampleBatch({ snapshot: undefined })]) expect(eventsPassFastCheck(batch.events, batch)).toBe(true);
  });

  it('never accepts a mutation that zod refuses (5,000 random mutations)', () => {
    let refusedByZod = 0;
    for (let round = 0; round < 5_000; round += 1) {
      let batch = sampleBatch();
      for (let steps = 1 + Math.floor(Math.random() * 3); steps > 0; steps -= 1) batch = mutate(batch);
      const zod = batchSchema.safeParse(batch).success;
      if (!zod) refusedByZod += 1;
      const fast = eventsPassFastCheck(batch.events, batch);
      if (fast && !zod) expect.fail(`fast check accepted what zod refuses: ${JSON.stringify(batch.events)}`);
    }
    expect(refusedByZod, 'the mutations mostly produce invalid batches').toBeGreaterThan(2_500);
  });

  it('refuses a table copy carrying anything but INSERTs of its table', () => {
    const batch = sampleBatch();
    const copy = { ...batch, snapshot: { schema: 'satellite/0', table: 'other', image_lsn: batch.commit_lsn, index: 0, last: true } };
    expect(eventsPassFastCheck(copy.events, copy)).toBe(false);
    expect(batchSchema.safeParse(copy).success).toBe(false);
  });

  it('refuses a column named __proto__, which a JSON object cannot carry safely (both paths agree)', () => {
    const batch = sampleBatch();
    const relation = { ...batch.relations[0]!, columns: [...batch.relations[0]!.columns, { name: '__proto__', type: 'text', not_null: false }] };
    expect(batchSchema.safeParse({ ...batch, relations: [relation] }).success).toBe(false);
    const data = JSON.parse('{"__proto__": "x", "project_id": "p"}') as Record<string, string>;
    const event = { ...batch.events[0]!, data } as Batch['events'][number];
    expect(eventsPassFastCheck([event], batch)).toBe(false);
  });
});
