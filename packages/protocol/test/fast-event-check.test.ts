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
  const row = pick(['data', 'old_data'] as const);
  const target = Math.random() < 0.45 && typeof event[row] === 'object' && event[row] !== null ? (event[row] as Record<string, unknown>) : event;
  const key = pick([...Object.keys(target), 'extra', 'note', 'project_id', 'object_key', 'constructor', '__proto__']);
  const action = Math.random();
  if (action < 0.2) delete target[key];
  // As JSON.parse makes it: an own property, even for "__proto__".
  else Object.defineProperty(target, key, { value: structuredClone(pick(STRANGE_VALUES)), enumerable: true, writable: true, configurable: true });
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
  }, 60_000);

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
    const parsed = batchSchema.safeParse({ ...batch, events: [event] });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain('__proto__');
  });

  it('refuses an UPDATE or DELETE that does not carry exactly the identity its relation declares (both paths agree)', () => {
    const batch = sampleBatch({ snapshot: undefined });
    const relation = batch.relations[0]!;
    const full = { ...relation, replica_identity: 'full' as const, key_columns: [] };
    const deleteOf = (old_data: Record<string, string | null>) => ({ ...batch.events.find((event) => event.operation === 'DELETE')!, old_data }) as Batch['events'][number];
    const updateOf = (data: Record<string, string | null>, old_data: Record<string, string | null> | null) => ({ ...batch.events.find((event) => event.operation === 'UPDATE')!, data, old_data, unchanged_toast: [] }) as Batch['events'][number];
    const key = { project_id: '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', object_key: '\\x00ff10' };
    const wholeRow = Object.fromEntries(relation.columns.map((column) => [column.name, 'v']));
    const cases: { relations: Batch['relations']; event: Batch['events'][number]; valid: boolean }[] = [
      { relations: [relation], event: deleteOf(key), valid: true },
      { relations: [relation], event: deleteOf({}), valid: false },
      { relations: [relation], event: deleteOf({ project_id: key.project_id }), valid: false },
      { relations: [relation], event: deleteOf({ ...key, note: 'x' }), valid: false },
      { relations: [relation], event: deleteOf(JSON.parse('{"constructor": "x"}') as Record<string, string>), valid: false },
      { relations: [relation], event: updateOf({ ...wholeRow, ...key }, null), valid: true },
      { relations: [relation], event: updateOf({ ...wholeRow, ...key }, key), valid: true },
      { relations: [relation], event: updateOf({ note: '2' }, null), valid: false },
      { relations: [full], event: deleteOf(wholeRow), valid: true },
      { relations: [full], event: deleteOf(key), valid: false },
      { relations: [full], event: updateOf(wholeRow, wholeRow), valid: true },
      { relations: [full], event: updateOf(wholeRow, null), valid: false },
      { relations: [{ ...relation, replica_identity: 'nothing', key_columns: [] }], event: deleteOf({}), valid: false },
    ];
    for (const [index, { relations, event, valid }] of cases.entries()) {
      const candidate = { ...batch, relations, events: [event] };
      expect(batchSchema.safeParse(candidate).success, `case ${index} (zod)`).toBe(valid);
      expect(eventsPassFastCheck([event], candidate), `case ${index} (fast)`).toBe(valid);
    }
  });
});
