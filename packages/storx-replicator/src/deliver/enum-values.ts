import { cellOf, type ChangeEvent, type Relation } from '@storx-backup/protocol';

/**
 * True when an event of `relation` holds an enum value that its metadata's labels lack: the
 * source gained the label (`ALTER TYPE ... ADD VALUE`) after the metadata was read. An enum's
 * labels are not part of the relation description pgoutput sends (adding one changes neither
 * the table nor the type's oid), so a cache keyed by that description cannot notice by itself.
 * One Set lookup per enum value, for relations that use enums only.
 */
export function hasUnlistedEnumLabel(relation: Relation, events: readonly ChangeEvent[]): boolean {
  if (relation.enum_types === undefined) return false;
  const scalars: [string, ReadonlySet<string>][] = [];
  const arrays: [string, ReadonlySet<string>][] = [];
  for (const enumType of relation.enum_types) {
    const labels = new Set(enumType.labels);
    for (const column of relation.columns) {
      if (column.type === enumType.type) scalars.push([column.name, labels]);
      // format_type writes one `[]` whatever the dimensions.
      else if (column.type === `${enumType.type}[]`) arrays.push([column.name, labels]);
    }
  }
  for (const event of events) {
    if (event.schema !== relation.schema || event.table !== relation.table) continue;
    for (const row of [event.data, event.old_data]) {
      if (row === null) continue;
      for (const [column, labels] of scalars) {
        const value = cellOf(row, column);
        if (typeof value === 'string' && !labels.has(value)) return true;
      }
      for (const [column, labels] of arrays) {
        const value = cellOf(row, column);
        if (typeof value === 'string' && arrayElements(value).some((element) => element !== null && !labels.has(element))) return true;
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
