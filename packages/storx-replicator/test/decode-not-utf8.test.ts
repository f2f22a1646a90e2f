// A SQL_ASCII source holding bytes that are not UTF-8 in a text column: real pgoutput from a
// real slot. The decoder stops with VALUE_NOT_UTF8 (a ReplicatorError: run stops with error and
// fix, docs/errors.md) rather than replacing the bytes, and the slot keeps the change.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { connect } from '@storx-backup/test-postgres';
import { notUtf8FromServer } from '../src/decode/change-json.js';
import { decodePgoutput } from '../src/decode/pgoutput-decoder.js';
import { TransactionAssembler } from '../src/decode/transaction-assembler.js';
import { ReplicatorError } from '../src/errors.js';

const SLOT = 'not_utf8_test';
const DATABASE = `ascii_${Math.random().toString(36).slice(2, 10)}`;
let admin: pg.Client;
let source: pg.Client;

beforeAll(async () => {
  admin = await connect(inject('pgSourceUrl'));
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(DATABASE)} TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'`);
  const url = new URL(inject('pgSourceUrl'));
  url.pathname = `/${DATABASE}`;
  source = await connect(url.toString());
  await source.query('CREATE TABLE legacy (id integer PRIMARY KEY, v text)');
  await source.query('CREATE PUBLICATION legacy_pub FOR TABLE legacy');
  await source.query(`SELECT pg_create_logical_replication_slot('${SLOT}', 'pgoutput')`);
});
afterAll(async () => {
  await source?.query(`SELECT pg_drop_replication_slot('${SLOT}')`).catch(() => undefined);
  await source?.end();
  await admin?.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(DATABASE)} WITH (FORCE)`).catch(() => undefined);
  await admin?.end();
});

describe('a SQL_ASCII source with bytes that are not UTF-8', () => {
  it('stops with VALUE_NOT_UTF8 (from PostgreSQL, or from the decoder naming the column), and the slot still holds the change', async () => {
    await source.query(`INSERT INTO legacy VALUES (1, 'plain'), (2, E'caf\\351')`); // Latin-1 é: one byte 0xE9
    const { rows: stored } = await source.query<{ hex: string }>(`SELECT encode(v::bytea, 'hex') AS hex FROM legacy WHERE id = 2`);
    expect(stored[0]!.hex).toBe('636166e9');

    // Peeked, not consumed: what the walsender would stream, and still there afterwards. Under
    // client_encoding UTF8 (what run's replication connection asks for) PostgreSQL itself
    // refuses to convert the value: 22021, which run turns into the same stop.
    const peek = `SELECT lsn::text, data FROM pg_logical_slot_peek_binary_changes('${SLOT}', NULL, NULL, 'proto_version', '1', 'publication_names', 'legacy_pub')`;
    const refused = await source.query(peek).then(() => undefined, (error: unknown) => error);
    expect(refused).toMatchObject({ code: '22021' });
    expect(notUtf8FromServer(refused)).toMatchObject({ code: 'VALUE_NOT_UTF8', message: expect.stringContaining('not valid UTF-8') as string });
    expect(notUtf8FromServer(new Error('other'))).toBeUndefined();

    // A connection that takes the bytes as they are (client_encoding SQL_ASCII): the decoder refuses them.
    await source.query(`SET client_encoding = 'SQL_ASCII'`);
    const { rows } = await source.query<{ lsn: string; data: Buffer }>(peek);
    const assembler = new TransactionAssembler({ includedTables: new Set(['public\0legacy']), maxPartBytes: 1 << 20, emit: () => undefined });
    let stop: unknown;
    try {
      for (const row of rows) {
        const [high, low] = row.lsn.split('/').map((hex) => BigInt(`0x${hex}`)) as [bigint, bigint];
        assembler.handle((high << 32n) | low, decodePgoutput(row.data, 0));
      }
    } catch (error) {
      stop = error;
    }
    expect(stop).toBeInstanceOf(ReplicatorError);
    expect(stop).toMatchObject({ code: 'VALUE_NOT_UTF8', message: expect.stringContaining('column "v" of "public"."legacy" holds bytes that are not valid UTF-8') as string });
    expect((stop as ReplicatorError).fixLines[0]).toContain('rewrite the value of "v" in "public"."legacy" on the source as valid UTF-8');
    expect((await source.query(peek)).rows).toHaveLength(rows.length);
  });

  it("the initial copy's COPY TO meets the same refusal under UTF8, which copyTables turns into the same stop", async () => {
    await source.query(`SET client_encoding = 'UTF8'`);
    const refused = await new Promise<unknown>((resolve) => {
      const stream = source.query(copyTo('COPY legacy (id, v) TO STDOUT'));
      stream.on('error', resolve);
      stream.on('end', () => resolve(undefined));
      stream.resume();
    });
    expect(refused).toMatchObject({ code: '22021' });
    expect(notUtf8FromServer(refused)).toMatchObject({ code: 'VALUE_NOT_UTF8' });
  });
});
