import { boundedText } from '../bounded-text.js';
import { ReceiverError } from '../errors.js';

/**
 * What a failure of the backup database means for the sender:
 * - `unavailable`: retry later (connection lost, server starting or shutting down, out of
 *   resources, serialization failure or deadlock);
 * - `rejected`: the data itself was refused (constraint, bad value, a limit of PostgreSQL, a
 *   type it will not take as input): retrying will not help;
 * - `schema-changed`: a table or column we knew vanished (someone altered the backup): re-read
 *   the catalog and try once more;
 * - `unknown`: anything else.
 *
 * `message` is PostgreSQL's message with the offending value withheld (see
 * `withoutValues`) and its SQLSTATE appended: it goes into the receiver's log and, for a
 * refusal, back to the authenticated sender, and neither may carry row values.
 */
export type DatabaseErrorKind = 'unavailable' | 'rejected' | 'schema-changed' | 'unknown';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);
const SQLSTATE = /^[0-9A-Z]{5}$/;
/** Longest database message passed on; PostgreSQL's own are far shorter once values are withheld. */
export const DATABASE_MESSAGE_LIMIT = 300;

export function classifyDatabaseError(error: unknown): { kind: DatabaseErrorKind; message: string } {
  const code = (error as { code?: unknown }).code;
  const raw = error instanceof Error ? error.message : String(error);
  const isSqlState = typeof code === 'string' && SQLSTATE.test(code);
  const message = isSqlState ? `${withoutValues(raw)} (SQLSTATE ${code})` : boundedText(raw, DATABASE_MESSAGE_LIMIT);
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return { kind: 'unavailable', message };
    // SQLSTATE classes: 08 connection, 53 resources, 57 operator intervention (shutdown),
    // 40 transaction rollback (serialization, deadlock), 58 system error.
    if (/^(08|53|57|40|58)/.test(code)) return { kind: 'unavailable', message };
    if (code === '42P01' || code === '42703') return { kind: 'schema-changed', message };
    // 22 data exception, 23 integrity constraint, 42 syntax/access (a type or privilege issue),
    // 44 check option, 54 program limit (more than 1,600 columns, an array of more than 6
    // dimensions, jsonb nested past the stack depth, a key over the btree row limit), 0A feature
    // not supported (input of pg_node_tree and similar), 21 cardinality (one batch upserting the
    // same key twice, as "7" and "07" or a uuid in two cases): the same batch fails the same way
    // every time, so the sender must stop on it, not retry it forever.
    if (/^(22|23|42|44|54|0A|21)/.test(code)) return { kind: 'rejected', message };
  }
  if (/Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(raw)) {
    return { kind: 'unavailable', message };
  }
  return { kind: 'unknown', message };
}

/**
 * PostgreSQL names the offending value at the end of its message (`invalid input syntax for
 * type uuid: "…"`, `malformed array literal: "…"`, `invalid byte sequence for encoding "UTF8":
 * 0xc3 0x28`); everything from there on is withheld. Identifiers (`column "x"`) stay: they are
 * what the operator needs. The DETAIL (`Key (id)=(…)`) is never used. Bounded in length.
 */
export function withoutValues(message: string): string {
  return boundedText(message.replace(/: (?:"|0x)[\s\S]*$/, ': (value withheld)'), DATABASE_MESSAGE_LIMIT);
}

/** A failure while applying, as the receiver answers it (a ReceiverError passes through). */
export function databaseFailure(error: unknown): ReceiverError {
  if (error instanceof ReceiverError) return error;
  const classified = classifyDatabaseError(error);
  switch (classified.kind) {
    case 'unavailable':
      return new ReceiverError('DATABASE_UNAVAILABLE', `backup database unavailable: ${classified.message}`, { cause: error });
    case 'rejected':
      return new ReceiverError('APPLY_REJECTED', `backup database refused the batch: ${classified.message}`, { cause: error });
    case 'schema-changed':
      return new ReceiverError('TABLE_INCOMPATIBLE', `backup table changed while applying: ${classified.message}`, { cause: error });
    case 'unknown':
      return new ReceiverError('INTERNAL', classified.message, { cause: error });
  }
}
