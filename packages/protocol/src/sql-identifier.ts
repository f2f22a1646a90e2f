/**
 * Double-quotes an identifier for SQL text: `satellite/0` → `"satellite/0"`, `a"b` → `"a""b"`.
 * Always quoting is correct, a keyword such as `user` included. For statements shown to an
 * operator and names in messages, and for SQL where no query builder quotes for us; with Kysely,
 * prefer `sql.id`.
 */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"schema"."name"`, each part quoted by quoteIdentifier. */
export function quoteQualified(schema: string, name: string): string {
  return `${quoteIdentifier(schema)}.${quoteIdentifier(name)}`;
}
