import type { CatalogQuery } from '../source/source-catalog.js';

interface TypeRow {
  kind: string;
  schema: string;
  schema_sql: string;
  name: string;
  extension: string | null;
  extension_schema: string | null;
  base: string | null;
  base_schema: string | null;
  collation: string | null;
  not_null: boolean;
  default_value: string | null;
  checks: string | null;
  attributes: { type: string; schema: string; text: string }[] | null;
  range_subtype: string | null;
  labels: string[] | null;
}

// On the catalog connection (search_path pg_catalog), so every user-defined type it prints
// carries its schema, exactly as the relation metadata named it.
const TYPE_QUERY = `
  SELECT t.typtype AS kind, n.nspname AS schema, quote_ident(n.nspname) AS schema_sql, quote_ident(n.nspname) || '.' || quote_ident(t.typname) AS name,
         (SELECT quote_ident(e.extname) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
           WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e') AS extension,
         (SELECT quote_ident(en.nspname) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid JOIN pg_namespace en ON en.oid = e.extnamespace
           WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e') AS extension_schema,
         CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base,
         (SELECT bn.nspname FROM pg_type b JOIN pg_namespace bn ON bn.oid = b.typnamespace WHERE b.oid = t.typbasetype) AS base_schema,
         CASE WHEN t.typtype = 'd' AND t.typcollation <> 0 AND t.typcollation <> (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype)
              THEN (SELECT quote_ident(cn.nspname) || '.' || quote_ident(c.collname) FROM pg_collation c JOIN pg_namespace cn ON cn.oid = c.collnamespace WHERE c.oid = t.typcollation) END AS collation,
         t.typnotnull AS not_null, t.typdefault AS default_value,
         (SELECT string_agg('CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid), ' ' ORDER BY c.conname)
            FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c') AS checks,
         (SELECT json_agg(json_build_object('type', format_type(a.atttypid, a.atttypmod), 'schema', an.nspname,
                   'text', quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum)
            FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid JOIN pg_namespace an ON an.oid = at.typnamespace
           WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS attributes,
         (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid) AS range_subtype,
         (SELECT array_agg(quote_literal(l.enumlabel) ORDER BY l.enumsortorder) FROM pg_enum l WHERE l.enumtypid = t.oid) AS labels
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE t.oid = to_regtype($1)`;

const BUILT_IN_SCHEMAS = new Set(['pg_catalog', 'information_schema']);

/**
 * The statements that create a source type on the backup, read from the source catalog: an
 * extension's type becomes its CREATE EXTENSION; a domain, composite, range or enum its CREATE
 * DOMAIN / CREATE TYPE, after the user-defined types it is built on. A base type written in C
 * has no such statement: undefined, and the caller says to install it as on the source.
 */
export async function sourceTypeDdl(catalog: CatalogQuery, type: string, depth = 0): Promise<string[] | undefined> {
  const [row] = await catalog.query<TypeRow>(TYPE_QUERY, [type]).catch(() => []);
  if (row === undefined) return undefined;
  const schema = BUILT_IN_SCHEMAS.has(row.schema) || row.schema === 'public' ? [] : [`CREATE SCHEMA IF NOT EXISTS ${row.schema_sql};`];
  if (row.extension !== null) {
    const home = row.extension_schema === null || row.extension_schema === 'public' ? [] : [`CREATE SCHEMA IF NOT EXISTS ${row.extension_schema};`];
    return [...home, `CREATE EXTENSION IF NOT EXISTS ${row.extension}${row.extension_schema === null ? '' : ` WITH SCHEMA ${row.extension_schema}`};`];
  }
  // Types this one is built on come first (at most a few levels: a domain over a domain...).
  const under = async (parts: { type: string; schema: string | null }[]): Promise<string[]> => {
    const statements: string[] = [];
    if (depth >= 3) return statements;
    for (const part of parts) {
      if (part.schema === null || BUILT_IN_SCHEMAS.has(part.schema)) continue;
      for (const statement of (await sourceTypeDdl(catalog, part.type.replace(/(?:\[\])+$/, ''), depth + 1)) ?? []) if (!statements.includes(statement)) statements.push(statement);
    }
    return statements;
  };
  switch (row.kind) {
    case 'd': {
      const clauses = [row.collation === null ? '' : ` COLLATE ${row.collation}`, row.default_value === null ? '' : ` DEFAULT ${row.default_value}`, row.not_null ? ' NOT NULL' : '', row.checks === null ? '' : ` ${row.checks}`].join('');
      return [...(await under([{ type: row.base!, schema: row.base_schema }])), ...schema, `CREATE DOMAIN ${row.name} AS ${row.base}${clauses};`];
    }
    case 'c':
      return [...(await under(row.attributes ?? [])), ...schema, `CREATE TYPE ${row.name} AS (${(row.attributes ?? []).map((attribute) => attribute.text).join(', ')});`];
    case 'r':
      return [...schema, `CREATE TYPE ${row.name} AS RANGE (SUBTYPE = ${row.range_subtype});`];
    case 'e':
      return [...schema, `CREATE TYPE ${row.name} AS ENUM (${(row.labels ?? []).join(', ')});`];
    default:
      return undefined;
  }
}
