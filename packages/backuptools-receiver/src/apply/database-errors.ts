/**
 * What a failure of the backup database means for the sender:
 * - `unavailable`: retry later (connection lost, server starting or shutting down, out of
 *   resources, serialization failure or deadlock);
 * - `rejected`: the data itself was refused (constraint, bad value): retrying will not help;
 * - `schema-changed`: a table or column we knew vanished (someone altered the backup): re-read
 *   the catalog and try once more;
 * - `unknown`: anything else.
 */
export type DatabaseErrorKind = 'unavailable' | 'rejected' | 'schema-changed' | 'unknown';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

export function classifyDatabaseError(error: unknown): { kind: DatabaseErrorKind; message: string } {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return { kind: 'unavailable', message };
    // SQLSTATE classes: 08 connection, 53 resources, 57 operator intervention (shutdown),
    // 40 transaction rollback (serialization, deadlock), 58 system error.
    if (/^(08|53|57|40|58)/.test(code)) return { kind: 'unavailable', message };
    if (code === '42P01' || code === '42703') return { kind: 'schema-changed', message };
    // 22 data exception, 23 integrity constraint, 42 syntax/access (a type or privilege issue).
    if (/^(22|23|42|44)/.test(code)) return { kind: 'rejected', message };
  }
  if (/Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message)) {
    return { kind: 'unavailable', message };
  }
  return { kind: 'unknown', message };
}
