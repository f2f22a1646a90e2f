import type pg from 'pg';

/**
 * Every user object of a database as sorted lines of text (schemas, relations with their
 * columns and types, types with their enum labels, constraints, privileges): equal before and
 * after means nothing was created, altered, dropped or granted in between.
 */
export async function catalogSnapshot(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ line: string }>(`
    SELECT 'schema ' || n.nspname || ' ' || coalesce(n.nspacl::text, '') AS line FROM pg_namespace n
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
    UNION ALL
    SELECT 'relation ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' ' || coalesce(c.relacl::text, '') || ' ' ||
           coalesce((SELECT string_agg(a.attname || ':' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN '!' ELSE '' END, ',' ORDER BY a.attnum)
                       FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
    UNION ALL
    SELECT 'type ' || n.nspname || '.' || t.typname || ' ' || t.typtype::text || ' ' ||
           coalesce((SELECT string_agg(l.enumlabel, ',' ORDER BY l.enumsortorder) FROM pg_enum l WHERE l.enumtypid = t.oid), '')
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
    UNION ALL
    SELECT 'constraint ' || n.nspname || '.' || c.conname || ' ' || pg_get_constraintdef(c.oid)
      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    UNION ALL
    SELECT 'extension ' || e.extname || ' ' || e.extversion FROM pg_extension e
    ORDER BY 1`);
  return rows.map((row) => row.line);
}
