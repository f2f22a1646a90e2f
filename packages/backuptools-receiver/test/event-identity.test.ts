import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relation } from '@storx-backup/protocol';
import { batchOf, signedRequest, tableText, type TestReceiver, testReceiver } from './support.js';

// A key column named like an Object.prototype member: an inherited property must never be read as its value.
const CTOR: Relation = {
  schema: 'satellite/0',
  table: 'ctor',
  replica_identity: 'default',
  columns: [
    { name: 'constructor', type: 'text', not_null: true },
    { name: 'v', type: 'text', not_null: false },
  ],
  key_columns: ['constructor'],
};
const FULL: Relation = {
  schema: 'satellite/0',
  table: 'full_rows',
  replica_identity: 'full',
  columns: [
    { name: 'a', type: 'text', not_null: false },
    { name: 'b', type: 'text', not_null: false },
  ],
  key_columns: [],
};

let receiver: TestReceiver;
beforeAll(async () => {
  receiver = await testReceiver({ tables: ['ctor', 'full_rows'] });
  const seed = batchOf([CTOR], [
    { operation: 'INSERT', data: { constructor: 'function Object() { [native code] }', v: 'trap' }, old_data: null, unchanged_toast: [] },
    { operation: 'INSERT', data: { constructor: 'k1', v: 'one' }, old_data: null, unchanged_toast: [] },
  ]);
  const rows = batchOf([FULL], [
    { operation: 'INSERT', data: { a: 'x', b: 'keep' }, old_data: null, unchanged_toast: [] },
    { operation: 'INSERT', data: { a: 'x', b: null }, old_data: null, unchanged_toast: [] },
  ]);
  for (const batch of [seed, rows]) expect((await receiver.app.inject(await signedRequest(batch, receiver.keys))).statusCode).toBe(200);
});
afterAll(async () => {
  await receiver.close();
});

async function tables(): Promise<string[][]> {
  return [await tableText(receiver.db, 'satellite/0', 'ctor'), await tableText(receiver.db, 'satellite/0', 'full_rows')];
}

async function expectInvalid(batch: ReturnType<typeof batchOf>, mentions: string): Promise<void> {
  const before = await tables();
  const response = await receiver.app.inject(await signedRequest(batch, receiver.keys));
  expect(response.statusCode, response.body).toBe(422);
  expect(response.json()).toMatchObject({ error: 'PAYLOAD_INVALID', message: expect.stringContaining(mentions) as string });
  expect(await tables()).toEqual(before);
}

describe('UPDATE and DELETE must name their row by exactly the declared identity', () => {
  it('422 for a DELETE with no key values (an inherited "constructor" is not a value)', async () => {
    await expectInvalid(batchOf([CTOR], [{ operation: 'DELETE', data: null, old_data: {}, unchanged_toast: [] }]), 'old_data');
  });

  it('422 for an UPDATE whose data lacks the key', async () => {
    await expectInvalid(batchOf([CTOR], [{ operation: 'UPDATE', data: { v: 'changed' }, old_data: null, unchanged_toast: [] }]), 'lacks key column');
  });

  it('422 for a DELETE or UPDATE with a partial old row on a REPLICA IDENTITY FULL table', async () => {
    await expectInvalid(batchOf([FULL], [{ operation: 'DELETE', data: null, old_data: { a: 'x' }, unchanged_toast: [] }]), 'the whole old row');
    await expectInvalid(batchOf([FULL], [{ operation: 'UPDATE', data: { a: 'y', b: 'z' }, old_data: null, unchanged_toast: [] }]), 'whole old row');
  });

  it('422 for a "__proto__" member in data, which a record would silently drop', async () => {
    const data = JSON.parse('{"constructor": "k2", "v": "x", "__proto__": "y"}') as Record<string, string>;
    await expectInvalid(batchOf([CTOR], [{ operation: 'INSERT', data, old_data: null, unchanged_toast: [] }]), '__proto__');
  });

  it('applies the well-formed ones: the key named "constructor", and the NULL-holding row of the FULL table', async () => {
    const batch = batchOf([CTOR], [{ operation: 'DELETE', data: null, old_data: { constructor: 'k1' }, unchanged_toast: [] }]);
    expect((await receiver.app.inject(await signedRequest(batch, receiver.keys))).statusCode).toBe(200);
    const full = batchOf([FULL], [{ operation: 'DELETE', data: null, old_data: { a: 'x', b: null }, unchanged_toast: [] }]);
    expect((await receiver.app.inject(await signedRequest(full, receiver.keys))).statusCode).toBe(200);
    expect(await tables()).toEqual([['("function Object() { [native code] }",trap)'], ['(x,keep)']]);
  });
});
