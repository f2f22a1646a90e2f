// Micro-benchmark (not a test): CPU per row from pgoutput message bytes to batch payload bytes,
// the replicator's path (`new`) against the one it replaced (`old`, test/oracle: a string per
// value, an event object per change, JSON.stringify of the batch). The messages are the
// pgoutput bytes of the bench's rows (packages/bench/src/schema.ts `object_rows` and `narrow`),
// one WAL position per row, as a bulk INSERT produces; each batch is encoded and dropped.
//
//   pnpm build && pnpm exec tsc -p packages/storx-replicator/test/bench/tsconfig.json &&
//   node packages/storx-replicator/dist/bench/test/bench/change-json-bench.js --path new --shape wide --rows 200000 --tx 1000
//
// Prints one JSON line: CPU µs per row (user + system), payload bytes per row, peak RSS.
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { type Batch, type BatchHeader, encodeBatch, encodeBatchPayload, type Relation } from '@storx-backup/protocol';
import { Batcher } from '../../src/batch/batcher.js';
import type { OutgoingBatch } from '../../src/batch/outgoing-batch.js';
import { decodePgoutput } from '../../src/decode/pgoutput-decoder.js';
import { TransactionAssembler } from '../../src/decode/transaction-assembler.js';
import { decodePgoutput as oldDecodePgoutput } from '../oracle/old-pgoutput-decoder.js';
import { TransactionAssembler as OldTransactionAssembler, type TransactionPart as OldPart } from '../oracle/old-transaction-assembler.js';
import { beginBytes, type ColumnSpec, commitBytes, insertBytes, relationBytes, type TupleCell } from '../pgoutput-bytes.js';

const { values: args } = parseArgs({
  options: {
    path: { type: 'string', default: 'new' },
    shape: { type: 'string', default: 'wide' },
    rows: { type: 'string', default: '200000' },
    tx: { type: 'string', default: '1000' },
    'batch-bytes': { type: 'string', default: String(1024 * 1024) },
    'batch-events': { type: 'string', default: '5000' },
  },
});
const rows = Number(args.rows);
const perTx = Number(args.tx);
const maxBytes = Number(args['batch-bytes']);
const maxEvents = Number(args['batch-events']);

const WIDE: ColumnSpec[] = [
  { name: 'project_id', isKey: true, typeOid: 2950 },
  { name: 'bucket_name', isKey: true, typeOid: 17 },
  { name: 'object_key', isKey: true, typeOid: 17 },
  { name: 'version', isKey: true, typeOid: 20 },
  { name: 'status', typeOid: 21 },
  { name: 'created_at', typeOid: 1184 },
  { name: 'expires_at', typeOid: 1184 },
  { name: 'encrypted_metadata', typeOid: 17 },
  { name: 'total_plain_size', typeOid: 20 },
  { name: 'total_encrypted_size', typeOid: 1700, typeMod: (20 << 16) + 4 },
];
const NARROW: ColumnSpec[] = [
  { name: 'id', isKey: true, typeOid: 20 },
  { name: 'v', typeOid: 23 },
];

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');
const hex = (text: string): string => `\\x${Buffer.from(text).toString('hex')}`;

/** One row as PostgreSQL prints it (bench.object_rows(g, g) / the narrow load). */
function row(g: number): TupleCell[] {
  if (args.shape === 'narrow') return [String(g), String(g % 1000)];
  const created = new Date(Date.UTC(2025, 0, 1) + g).toISOString().replace('T', ' ').replace('Z', '+00');
  return [
    `00000000-0000-4000-8000-${(g % 997).toString(16).padStart(12, '0')}`,
    hex(`bucket-${g % 7}`),
    hex(`objects/${md5(String(g))}/${g}`),
    '1',
    '1',
    created,
    null,
    `\\x${md5(String(g)).repeat(9)}`,
    String(g * 1024),
    String(g * 1040),
  ];
}

const columns = args.shape === 'narrow' ? NARROW : WIDE;
const table = args.shape === 'narrow' ? 'narrow' : 'objects';
const RELATION_ID = 16500;
// Distinct rows, made before the clock starts and used round robin.
const POOL = 4096;
const inserts = Array.from({ length: POOL }, (_, index) => insertBytes(RELATION_ID, row(index + 1)));
const relation: Relation = { schema: 'satellite/0', table, replica_identity: 'default', columns: columns.map((column) => ({ name: column.name, type: 'text', not_null: false })), key_columns: columns.filter((column) => column.isKey).map((column) => column.name) };
const header = (commitLsn: string, chunk: Batch['chunk']): BatchHeader => ({ version: 2, source_id: 'bench', slot: 'bench_slot', commit_lsn: commitLsn, chunk, origin: { system_id: '7401234567890123456', timeline: 1, history: [] }, relations: [relation] });

let payloadBytes = 0;
let batches = 0;
let peakRss = 0;
const included = new Set([`satellite/0\0${table}`]);

function run(): void {
  let lsn = 0x100_0000n;
  const feedNew = (() => {
    const batcher = new Batcher({
      maxEvents,
      maxBytes,
      lingerMs: 60_000,
      emit: (batch: OutgoingBatch) => {
        if (batch.events.count === 0) return;
        payloadBytes += encodeBatchPayload(header('0/1', batch.chunk), batch.events).length;
        batches += 1;
      },
    });
    const assembler = new TransactionAssembler({ includedTables: included, maxPartBytes: maxBytes, emit: (part) => batcher.add(part) });
    return { handle: (walStart: bigint, buffer: Buffer) => assembler.handle(walStart, decodePgoutput(buffer, 0)), flush: () => batcher.flush() };
  })();
  const feedOld = (() => {
    // The old batcher grouped the old parts the same way; the payload was encodeBatch of the batch object.
    let pending: OldPart[] = [];
    let events = 0;
    let bytes = 0;
    const flush = (): void => {
      if (events === 0) return;
      const all = pending.flatMap((part) => part.events);
      payloadBytes += encodeBatch({ ...header('0/1', { index: 0, last: true }), events: all }).length;
      batches += 1;
      pending = [];
      events = 0;
      bytes = 0;
    };
    const assembler = new OldTransactionAssembler({
      includedTables: included,
      maxPartBytes: maxBytes,
      emit: (part) => {
        if (!part.last || part.chunkIndex > 0) {
          flush();
          pending = [part];
          events = part.events.length;
          flush();
          return;
        }
        if (events + part.events.length > maxEvents || bytes + part.bytes > maxBytes) flush();
        pending.push(part);
        events += part.events.length;
        bytes += part.bytes;
        if (events >= maxEvents || bytes >= maxBytes) flush();
      },
    });
    return { handle: (walStart: bigint, buffer: Buffer) => assembler.handle(walStart, oldDecodePgoutput(buffer, 0)), flush };
  })();
  const feed = args.path === 'old' ? feedOld : feedNew;

  feed.handle(lsn, relationBytes(RELATION_ID, 'satellite/0', table, 'd', columns));
  for (let done = 0, tx = 0; done < rows; tx += 1) {
    const count = Math.min(perTx, rows - done);
    const { begin, commit } = transactions[tx]!;
    const commitLsn = lsn + BigInt(count * 200 + 100);
    feed.handle(lsn, begin);
    for (let index = 0; index < count; index += 1) {
      lsn += 200n;
      feed.handle(lsn, inserts[(done + index) % POOL]!);
      if ((done + index) % 8192 === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
    }
    feed.handle(commitLsn, commit);
    lsn = commitLsn + 48n;
    done += count;
  }
  feed.flush();
}

/**
 * Each transaction's BEGIN and COMMIT messages, made before the clock starts (with --tx 1 their
 * making would cost as much as what is measured): the positions `run` gives them, a commit time
 * 300 µs after the previous one (single-row transactions commit that often in the bench's `b`).
 */
const transactions = ((): { begin: Buffer; commit: Buffer }[] => {
  const list: { begin: Buffer; commit: Buffer }[] = [];
  let lsn = 0x100_0000n;
  for (let done = 0; done < rows; ) {
    const count = Math.min(perTx, rows - done);
    const commitLsn = lsn + BigInt(count * 200) + 100n;
    const commitTime = 800_000_000_000_000n + BigInt(list.length * 300);
    list.push({ begin: beginBytes(commitLsn, commitTime, 1000 + done), commit: commitBytes(commitLsn, commitLsn + 48n, commitTime) });
    lsn = commitLsn + 48n;
    done += count;
  }
  return list;
})();

const before = process.cpuUsage();
const started = performance.now();
run();
const cpu = process.cpuUsage(before);
const seconds = (performance.now() - started) / 1000;
console.log(
  JSON.stringify({
    path: args.path,
    shape: args.shape,
    rows,
    rowsPerTx: perTx,
    cpuMicrosPerRow: Number(((cpu.user + cpu.system) / rows).toFixed(2)),
    userMicrosPerRow: Number((cpu.user / rows).toFixed(2)),
    systemMicrosPerRow: Number((cpu.system / rows).toFixed(2)),
    wallSeconds: Number(seconds.toFixed(2)),
    payloadBytesPerRow: Math.round(payloadBytes / rows),
    batches,
    peakRssMiB: Math.round(Math.max(peakRss, process.resourceUsage().maxRSS * 1024) / 2 ** 20),
  }),
);
