import pg from 'pg';
import { ReceiverError } from './errors.js';

/**
 * A value written into a statement's text as a SQL literal, for the texts the receiver sends
 * through the simple query protocol (several statements in one round trip take no parameters):
 * the same value a parameter would carry, read by PostgreSQL's same input functions. Strings go
 * through pg's escapeLiteral; an array of texts becomes the array literal pg would send as its
 * parameter (`{"a",NULL}`), then a string literal; integers only (no float's text to get wrong).
 */
export function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
    return `(${value})`;
  }
  if (typeof value === 'string') return stringLiteral(value);
  if (Array.isArray(value)) return stringLiteral(textArray(value));
  throw new Error(`no SQL literal for a ${typeof value}`);
}

function stringLiteral(value: string): string {
  // A parameter with a NUL is refused by PostgreSQL (22021); in a text it would end the text.
  if (value.includes('\0')) throw new ReceiverError('APPLY_REJECTED', 'backup database refused the batch: a text value holds a NUL byte');
  return pg.escapeLiteral(value);
}

/** A one-dimensional array of texts as PostgreSQL's array input reads it: each element quoted, `\` and `"` escaped. */
function textArray(values: readonly unknown[]): string {
  const elements = values.map((element) => {
    if (element === null || element === undefined) return 'NULL';
    if (typeof element !== 'string') throw new Error(`no array literal for a ${typeof element} element`);
    return `"${element.replace(/[\\"]/g, '\\$&')}"`;
  });
  return `{${elements.join(',')}}`;
}
