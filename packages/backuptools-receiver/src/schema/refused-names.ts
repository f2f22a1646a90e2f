/**
 * Characters the receiver refuses in names even though PostgreSQL could hold them: quotes,
 * semicolons, backslashes, `--` and control characters have no business in a schema, table or
 * column name, and a name built to break out of quoting is how an injection attempt looks.
 * Checked on every name a sender sends (table-sync) and on every name the configuration gives.
 */
export const BREAKS_QUOTING = /["';\\\p{Cc}]|--/u;

/**
 * Why a name in `tables` or `schema-mapping` is refused at start, or undefined. PostgreSQL
 * would take these, but each is a way to aim at something else: a system or search-path
 * schema (`pg_*`, `information_schema`, `$user`), characters that break quoting, or
 * characters that look like nothing or like something else (zero-width, bidi overrides,
 * other format characters).
 */
export function refusedName(name: string, kind: 'schema' | 'table'): string | undefined {
  if (name === '') return 'is empty';
  if (BREAKS_QUOTING.test(name)) return 'holds a quote, semicolon, backslash, "--" or a control character';
  if (/\p{Cf}/u.test(name)) return 'holds an invisible format character (zero-width, bidi override)';
  if (name.startsWith('$')) return 'starts with "$" (search_path\'s $user)';
  if (kind === 'schema' && (/^pg_/i.test(name) || name.toLowerCase() === 'information_schema')) return 'names a system schema';
  return undefined;
}
