import type { Batch } from './batch.js';
import type { ChangeEvent } from './change-event.js';
import { LONE_SURROGATE } from './identifiers.js';
import { LSN_TEXT, parseLsn } from './lsn.js';
import { identityProblem, identityProblemOfColumns } from './event-identity.js';
import { jsonRowOf } from './json-row.js';
import { type Relation, relationKey } from './relation.js';

const EVENT_KEYS = ['operation', 'schema', 'table', 'timestamp', 'lsn', 'commit_lsn', 'xid', 'seq', 'data', 'old_data', 'unchanged_toast'] as const;

/**
 * A hand-written check of one event of a batch (built once per batch), for the hot path: validating every field of every
 * event through zod cost ~100 ms per 6,000 events. It accepts only what the zod schema accepts
 * (it is stricter in places: unchanged-TOAST names must be columns of the relation), so when it
 * says no, the caller runs zod, whose verdict and messages stand. `batch` is the rest of the
 * batch, already validated by zod: its relation names and column names are valid identifiers.
 */
export function eventCheck(batch: Omit<Batch, 'events'>): (event: unknown) => boolean {
  const columnsByTable = new Map<string, Set<string>>();
  const relations = new Map<string, Relation>();
  for (const relation of batch.relations) {
    columnsByTable.set(relationKey(relation.schema, relation.table), new Set(relation.columns.map((column) => column.name)));
    relations.set(relationKey(relation.schema, relation.table), relation);
  }
  const batchCommit = parseLsn(batch.commit_lsn);
  const afterSeq = batch.chunk.after_seq;
  // The events of one transaction share their commit LSN: parsed once, not per event.
  let lastCommitText: string | undefined;
  let lastCommit = 0n;
  return (event) => {
    if (!isPlainObject(event)) return false;
    // An event read with its row as JSON bytes has exactly the event's members (row-event-scan.ts)
    // and its row was checked as it was read: reading `data` or `old_data` here would decode it.
    const jsonRow = jsonRowOf(event as ChangeEvent);
    if (jsonRow === undefined) {
      const keys = Object.keys(event);
      if (keys.length !== EVENT_KEYS.length || !EVENT_KEYS.every((key) => Object.hasOwn(event, key))) return false;
    }
    const { operation, schema, table, timestamp, lsn, commit_lsn, xid, seq, unchanged_toast } = event;
    const data = jsonRow === undefined ? event.data : undefined;
    const oldData = jsonRow === undefined ? event.old_data : undefined;
    if (typeof schema !== 'string' || typeof table !== 'string') return false;
    const columns = columnsByTable.get(relationKey(schema, table));
    if (columns === undefined) return false;
    if (typeof timestamp !== 'string' || timestamp.length === 0) return false;
    if (typeof lsn !== 'string' || !LSN_TEXT.test(lsn) || typeof commit_lsn !== 'string') return false;
    if (commit_lsn !== lastCommitText) {
      if (!LSN_TEXT.test(commit_lsn)) return false;
      lastCommit = parseLsn(commit_lsn);
      lastCommitText = commit_lsn;
    }
    const commit = lastCommit;
    if (commit > batchCommit || parseLsn(lsn) > commit) return false;
    if (!Number.isSafeInteger(xid) || (xid as number) < 0 || !Number.isSafeInteger(seq) || (seq as number) < 0) return false;
    if (afterSeq !== undefined && commit === batchCommit && (seq as number) <= afterSeq) return false;
    if (!Array.isArray(unchanged_toast)) return false;
    if (batch.snapshot && (operation !== 'INSERT' || schema !== batch.snapshot.schema || table !== batch.snapshot.table)) return false;
    // An event whose row is JSON bytes has the shape its operation needs (the scanner takes no other).
    if (jsonRow === undefined) {
      switch (operation) {
        case 'INSERT':
          if (!isRow(data, columns) || oldData !== null || unchanged_toast.length > 0) return false;
          break;
        case 'UPDATE':
          if (!isRow(data, columns) || !(oldData === null || isRow(oldData, columns))) return false;
          for (const column of unchanged_toast) if (typeof column !== 'string' || !columns.has(column) || Object.hasOwn(data, column)) return false;
          break;
        case 'DELETE':
          if (data !== null || !isRow(oldData, columns) || unchanged_toast.length > 0) return false;
          break;
        case 'TRUNCATE':
          if (data !== null || oldData !== null || unchanged_toast.length > 0) return false;
          break;
        default:
          return false;
      }
    }
    if (operation === 'UPDATE' || operation === 'DELETE') {
      const relation = relations.get(relationKey(schema, table))!;
      const problem =
        jsonRow === undefined
          ? identityProblem(event as ChangeEvent, relation)
          : identityProblemOfColumns(operation, relation, operation === 'DELETE' ? jsonRow.columns : null, operation === 'UPDATE' ? jsonRow.columns : null);
      if (problem !== undefined) return false;
    }
    return true;
  };
}

/** Whether every event passes `eventCheck`. */
export function eventsPassFastCheck(events: readonly unknown[], batch: Omit<Batch, 'events'>): boolean {
  return events.every(eventCheck(batch));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A row: column names of the relation, each with text (no lone surrogate) or null. */
function isRow(value: unknown, columns: ReadonlySet<string>): value is Record<string, string | null> {
  if (!isPlainObject(value)) return false;
  for (const key in value) {
    if (!Object.hasOwn(value, key) || !columns.has(key)) return false;
    const cell = value[key];
    if (cell !== null && (typeof cell !== 'string' || LONE_SURROGATE.test(cell))) return false;
  }
  return true;
}
