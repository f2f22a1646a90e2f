// The literals the receiver writes into statements it sends without parameters (held
// statements, the batch frame) must be read by PostgreSQL exactly as the same value sent as a
// parameter: checked on the real backup server, for the texts that need escaping.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { sqlLiteral } from '../src/sql-literal.js';
import { ReceiverError } from '../src/errors.js';
import { type TestReceiver, testReceiver } from './support.js';

let receiver: TestReceiver;
beforeAll(async () => {
  receiver = await testReceiver();
});
afterAll(async () => {
  await receiver?.close();
});

const TEXTS = ["it's", 'back\\slash', '"quoted"', '{braces}', 'a,b', 'NULL', '', ' spaced ', 'line\nbreak\ttab', 'ünï €', '\\x00ff', "E'x'", '$1', '😀'];

describe('sqlLiteral', () => {
  it.each(TEXTS)('a text reads back as the parameter would: %j', async (text) => {
    const { rows } = await sql<{ same: boolean }>`SELECT (${sql.raw(sqlLiteral(text))}::text) IS NOT DISTINCT FROM ${text}::text AS same`.execute(receiver.db);
    expect(rows[0]!.same).toBe(true);
  });

  it('an array of texts reads back element by element, NULL elements included', async () => {
    const values = [...TEXTS, null, 'last'];
    const { rows } = await sql<{ same: boolean }>`SELECT (${sql.raw(sqlLiteral(values))}::text[]) IS NOT DISTINCT FROM ${values}::text[] AS same`.execute(receiver.db);
    expect(rows[0]!.same).toBe(true);
    const { rows: empty } = await sql<{ n: number }>`SELECT cardinality(${sql.raw(sqlLiteral([]))}::text[]) AS n`.execute(receiver.db);
    expect(empty[0]!.n).toBe(0);
  });

  it('null, booleans and integers; refuses a NUL (as PostgreSQL refuses it in a parameter), a fraction, an object', () => {
    expect([sqlLiteral(null), sqlLiteral(undefined), sqlLiteral(true), sqlLiteral(false), sqlLiteral(-42)]).toEqual(['NULL', 'NULL', 'true', 'false', '(-42)']);
    expect(() => sqlLiteral('a\0b')).toThrow(ReceiverError);
    expect(() => sqlLiteral(['a\0b'])).toThrow(ReceiverError);
    expect(() => sqlLiteral(1.5)).toThrow(/not an integer/);
    expect(() => sqlLiteral({})).toThrow(/no SQL literal/);
    expect(() => sqlLiteral([1])).toThrow(/no array literal/);
  });
});
