import { z } from 'zod';
import { isPlausibleLsn, LSN_TEXT, parseLsn } from './lsn.js';

// PostgreSQL truncates identifiers at NAMEDATALEN - 1 = 63 bytes. Anything longer, or with
// a NUL byte, cannot name a real table or column, so it is rejected before it reaches SQL.
// Identifiers are still only ever quoted by the receiver (sql.id), never concatenated.
const MAX_IDENTIFIER_BYTES = 63;

/**
 * A UTF-16 surrogate without its pair. JSON can escape one alone (`"\ud800"`) and `JSON.parse`
 * makes it, but no UTF-8 text can hold it: written to the backup it would become U+FFFD, a
 * silent change of the value (or of a name). The replicator never sends one (it writes UTF-8 it
 * has checked).
 */
export const LONE_SURROGATE = /\p{Cs}/u;

/** A schema, table or column name as PostgreSQL stores it (1..63 bytes, no NUL, no lone surrogate). */
export const identifierSchema = z
  .string()
  .min(1, 'must not be empty')
  .refine((name) => Buffer.byteLength(name, 'utf8') <= MAX_IDENTIFIER_BYTES, {
    message: `must be at most ${MAX_IDENTIFIER_BYTES} bytes (PostgreSQL's identifier limit)`,
  })
  .refine((name) => !name.includes('\0'), { message: 'must not contain a NUL byte' })
  .refine((name) => !LONE_SURROGATE.test(name), { message: 'must not hold a lone UTF-16 surrogate (an escape such as \\ud800 without its pair)' })
  // A JSON object cannot carry this key safely: assigning it sets the prototype instead.
  .refine((name) => name !== '__proto__', { message: 'must not be "__proto__"' });

/** An LSN in PostgreSQL's text form, `X/Y` in hex, below 8000000/0 (see IMPLAUSIBLE_LSN). */
export const lsnTextSchema = z
  .string()
  .regex(LSN_TEXT, 'must be an LSN such as "16/B374D848"')
  .refine((text) => !LSN_TEXT.test(text) || isPlausibleLsn(parseLsn(text)), { message: 'is beyond any position a server can reach (8000000/0 and above are refused)' });

/**
 * A type as printed by PostgreSQL's `format_type()`, such as `numeric(38,10)`,
 * `timestamp with time zone`, `"satellite/0".status[]`. Kept as text: the receiver resolves
 * it against its own catalog and never splices it into SQL unchecked.
 */
export const formatTypeSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(256, 'must be at most 256 characters')
  .refine((type) => !/[;\0]/.test(type), { message: 'must not contain ";" or NUL' });
