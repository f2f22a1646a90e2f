import type { Relation } from '@storx-backup/protocol';
import { MANY_VALUES } from '../batch/user-typed-values.js';

/** The distinct values a batch holds in a column (by position), `MANY_VALUES` when they were not all kept, undefined when none. */
export type ColumnValues = (column: number) => ReadonlySet<string> | typeof MANY_VALUES | undefined;

/**
 * True when a batch holds, in a column of `relation`, an enum value that its metadata's labels
 * lack: the source gained the label (`ALTER TYPE ... ADD VALUE`) after the metadata was read. An
 * enum's labels are not part of the relation description pgoutput sends (adding one changes
 * neither the table nor the type's oid), so a cache keyed by that description cannot notice by
 * itself. `valuesOf` gives the distinct values of each column of a user-defined type, collected
 * as the changes were written (batch/user-typed-values.ts); where they were too many to keep,
 * the answer is true (looking the labels up again is always right, only slower). One Set lookup
 * per distinct value, for relations that use enums only.
 */
export function hasUnlistedEnumLabel(relation: Relation, valuesOf: ColumnValues): boolean {
  if (relation.enum_types === undefined) return false;
  for (const enumType of relation.enum_types) {
    const labels = new Set(enumType.labels);
    for (const [index, column] of relation.columns.entries()) {
      // format_type writes one `[]` whatever the dimensions.
      const array = column.type === `${enumType.type}[]`;
      if (column.type !== enumType.type && !array) continue;
      const values = valuesOf(index);
      if (values === undefined) continue;
      if (values === MANY_VALUES) return true;
      for (const value of values) {
        if (array ? arrayElements(value).some((element) => element !== null && !labels.has(element)) : !labels.has(value)) return true;
      }
    }
  }
  return false;
}

/**
 * The elements of an array in PostgreSQL's text output (`array_out`), any dimensions, with or
 * without explicit bounds (`[0:1]={a,b}`); an unquoted NULL is null. Output quotes every element
 * that is empty, is `NULL`, or holds a brace, comma, quote, backslash or white space, and escapes
 * quotes and backslashes inside with a backslash; the delimiter is a comma for every type but box.
 */
export function arrayElements(text: string): (string | null)[] {
  const elements: (string | null)[] = [];
  let at = text.startsWith('[') ? text.indexOf('=') + 1 : 0;
  while (at < text.length) {
    const char = text[at]!;
    if (char === '{' || char === '}' || char === ',') {
      at += 1;
    } else if (char === '"') {
      let value = '';
      for (at += 1; at < text.length && text[at] !== '"'; at += 1) {
        if (text[at] === '\\') at += 1;
        value += text[at] ?? '';
      }
      elements.push(value);
      at += 1;
    } else {
      let end = at;
      while (end < text.length && text[end] !== ',' && text[end] !== '}') end += 1;
      const raw = text.slice(at, end);
      elements.push(raw === 'NULL' ? null : raw);
      at = end;
    }
  }
  return elements;
}
