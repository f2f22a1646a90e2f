// Copy chunks with COPY text rows: the frame round-trips through seal → sign → verify → open,
// its header names its content type (authenticated), every structural flaw is refused before
// anything could be applied, and COPY text decodes to the values PostgreSQL would read.
import { describe, expect, it } from 'vitest';
import { type BatchHeader, COPY_CONTENT_TYPE, copyTextRows, type CopySection, decodeCopyPayload, encodeCopyPayload, LEGACY_RECEIVER_CAPABILITIES, openBatchRequest, parseV3Frame, readReceiverCapabilities, sealCopyChunkV3, signWebhook } from '../src/index.js';
import { ed25519Fixture, rsaFixture, sampleBatch } from './fixtures.js';

const receiver = rsaFixture();
const sender = ed25519Fixture();
const NOW = 1_765_016_400;

function copyHeader(): BatchHeader {
  const { events: _events, ...header } = sampleBatch();
  const relation = header.relations[0]!;
  return { ...header, snapshot: { schema: relation.schema, table: relation.table, image_lsn: header.commit_lsn, index: 0, last: true } };
}

function section(data: string, rows: number, columns = copyHeader().relations[0]!.columns.map((column) => column.name)): CopySection {
  return { format: 'text', columns, rows, data: [Buffer.from(data)] };
}

const line = (...values: string[]): string => `${values.join('\t')}\n`;
const columnCount = copyHeader().relations[0]!.columns.length;
const row = (id: number): string => line(...Array.from({ length: columnCount }, (_, index) => (index === 0 ? String(id) : '\\N')));

describe('copy chunk payload', () => {
  it('round-trips through a signed v3 frame whose cty says what it is', async () => {
    const data = row(1) + row(2);
    const sealed = sealCopyChunkV3(copyHeader(), section(data, 2), { key: receiver.publicKey, kid: receiver.kid });
    expect(parseV3Frame(sealed.body).contentType).toBe(COPY_CONTENT_TYPE);
    const headers = signWebhook({ id: sealed.id, timestamp: NOW, body: sealed.body, signingKeys: [sender.privateKey], scheme: 'v1d' });
    const opened = await openBatchRequest({ headers, body: sealed.body, trustedKeys: [sender.trusted], decryptionKeys: [{ key: receiver.privateKey, kid: receiver.kid }], now: NOW, format: 'v3' });
    expect(opened.batch).toEqual({ ...copyHeader(), events: [] });
    expect(opened.copy).toMatchObject({ format: 'text', rows: 2 });
    expect(Buffer.concat(opened.copy!.data).toString()).toBe(data);
  });

  it('an empty table is a last chunk of zero rows', async () => {
    expect((await decodeCopyPayload(encodeCopyPayload(copyHeader(), section('', 0)))).copy.rows).toBe(0);
  });

  it.each([
    ['columns in another order', () => encodeCopyPayload(copyHeader(), section(row(1), 1, [...copyHeader().relations[0]!.columns.map((column) => column.name)].reverse())), /not the relation's columns/],
    ['fewer lines than rows', () => encodeCopyPayload(copyHeader(), section(row(1), 2)), /holds 1 lines; the copy header declares 2/],
    ['more lines than rows', () => encodeCopyPayload(copyHeader(), section(row(1) + row(2), 1)), /more than 1 lines/],
    ['no final newline', () => encodeCopyPayload(copyHeader(), section(row(1).slice(0, -1), 1)), /does not end with a newline/],
    ['the end-of-data marker', () => encodeCopyPayload(copyHeader(), section(`${row(1)}\\.\n${row(2)}`, 3)), /end-of-data marker/],
    ['a raw carriage return', () => encodeCopyPayload(copyHeader(), section(row(1).replace('\n', '\r') + row(2), 1)), /carriage return/],
    ['rows out of bounds', () => encodeCopyPayload(copyHeader(), section(row(1), -1)), /rows must be an integer/],
    ['a batch that is not a table copy', () => encodeCopyPayload({ ...copyHeader(), snapshot: undefined }, section(row(1), 1)), /must carry `snapshot`/],
    ['a truncated payload', () => encodeCopyPayload(copyHeader(), section(row(1), 1)).subarray(0, 20), /ends inside the batch JSON/],
    ['an unknown copy header member', () => withCopyHeader({ version: 1, format: 'text', columns: ['id'], rows: 0, zip: true }), /unknown members: zip/],
    ['another copy header version', () => withCopyHeader({ version: 2, format: 'text', columns: ['id'], rows: 0 }), /version 2 is not 1/],
    ['another format', () => withCopyHeader({ version: 1, format: 'binary', columns: ['id'], rows: 0 }), /format "binary"/],
  ])('refuses %s (PAYLOAD_COPY_INVALID, 422)', async (_what, payload, message) => {
    await expect(decodeCopyPayload(payload())).rejects.toMatchObject({ code: 'PAYLOAD_COPY_INVALID', status: 422, message: expect.stringMatching(message) as string });
  });

  it('refuses a batch that carries events as well', async () => {
    const { relations } = copyHeader();
    const batchJson = Buffer.from(JSON.stringify({ ...sampleBatch(), snapshot: { schema: relations[0]!.schema, table: relations[0]!.table, image_lsn: sampleBatch().commit_lsn, index: 0, last: true } }));
    await expect(decodeCopyPayload(frame(batchJson, Buffer.from(JSON.stringify({ version: 1, format: 'text', columns: relations[0]!.columns.map((column) => column.name), rows: 0 }))))).rejects.toMatchObject({ status: 422 });
  });

  it('receivers that do not name copy formats get JSON events', () => {
    expect(LEGACY_RECEIVER_CAPABILITIES.copy).toEqual([]);
    expect(readReceiverCapabilities({ accepts: { formats: ['v3'], signatures: ['v1d'] } }).copy).toEqual([]);
    expect(readReceiverCapabilities({ accepts: { formats: ['v3'], signatures: ['v1d'], copy: ['binary', 'text'] } }).copy).toEqual(['text']);
  });

  it('several chunks of a copy go in flight only to a receiver that says copy_follows', () => {
    expect(LEGACY_RECEIVER_CAPABILITIES.copy_follows).toBe(false);
    expect(readReceiverCapabilities({ accepts: { formats: ['v3'], signatures: ['v1d'], follows: true, copy: ['text'] } }).copy_follows).toBe(false);
    expect(readReceiverCapabilities({ accepts: { formats: ['v3'], signatures: ['v1d'], copy: ['text'], copy_follows: true } }).copy_follows).toBe(true);
    expect(readReceiverCapabilities({ accepts: { formats: ['v3'], signatures: ['v1d'], copy_follows: 'yes' } }).copy_follows).toBe(false);
  });
});

describe('COPY text rows', () => {
  it('decodes every escape COPY FROM reads, NULL, empty strings and UTF-8', () => {
    const data = Buffer.from(['1\t\\N\t\t\\\\N\n', '2\ta\\tb\\nc\\rd\\\\e\\bf\\fg\\vh\t\\101\\x42\\x4\\q\tünï ✓\n', '3\t\\xc3\\xbc\t\\303\\274\t\\\\x00ff\n'].join(''));
    expect([...copyTextRows(data, 4)]).toEqual([
      ['1', null, '', '\\N'],
      ['2', 'a\tb\nc\rd\\e\bf\fg\vh', 'AB\x04q', 'ünï ✓'],
      ['3', 'ü', 'ü', '\\x00ff'],
    ]);
  });

  it('refuses a line with another number of fields', () => {
    expect(() => [...copyTextRows(Buffer.from('1\ta\n2\n'), 2)]).toThrow(/line 2 has 1 fields/);
  });

  it('refuses a value that is not UTF-8, raw or escaped (COPY FROM would), rather than replacing it', () => {
    for (const text of [Buffer.from([0x31, 0x09, 0x63, 0xe9, 0x0a]), Buffer.from('1\tcaf\\351\n'), Buffer.from('1\tcaf\\xe9\n')]) {
      expect(() => [...copyTextRows(text, 2)]).toThrow(/not valid UTF-8/);
    }
    expect([...copyTextRows(Buffer.from('1\tcaf\\303\\251\n'), 2)]).toEqual([['1', 'café']]);
  });
});

function withCopyHeader(copyHeaderJson: object): Buffer {
  const payload = encodeCopyPayload(copyHeader(), section('', 0));
  return frame(payload.subarray(4, 4 + payload.readUInt32BE(0)), Buffer.from(JSON.stringify(copyHeaderJson)));
}

function frame(batchJson: Buffer, copyHeaderJson: Buffer): Buffer {
  const out = Buffer.alloc(8 + batchJson.length + copyHeaderJson.length);
  out.writeUInt32BE(batchJson.length, 0);
  batchJson.copy(out, 4);
  out.writeUInt32BE(copyHeaderJson.length, 4 + batchJson.length);
  copyHeaderJson.copy(out, 8 + batchJson.length);
  return out;
}
