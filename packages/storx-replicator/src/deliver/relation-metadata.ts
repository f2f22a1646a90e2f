import type { EnumType, Relation } from '@storx-backup/protocol';
import type { UserTypedValues } from '../batch/user-typed-values.js';
import type { DecodedRelation } from '../decode/decoded-relation.js';
import { hasUnlistedEnumLabel } from './enum-values.js';
import { type CatalogQuery, SourceCatalog } from '../source/source-catalog.js';

const IDENTITY = { d: 'default', f: 'full', i: 'index', n: 'nothing' } as const;

interface CatalogRow {
  search_path: string;
  types: string[];
  not_null: string[] | null;
  primary_key: string[] | null;
  enums: { type: string; schema: string; name: string; labels: string[] | null }[] | null;
}

// One statement: each column's `format_type` (from the type oid and modifier the stream sent, so
// it is the type in force when the change was made), NOT NULL and the primary key from the
// current catalog (used only to create a missing backup table), and the labels, in order, of
// every enum a column uses directly or as an array's element (so the receiver can create it).
const CATALOG_QUERY = `
  SELECT current_setting('search_path') AS search_path,
         (SELECT array_agg(format_type(t.oid, t.mod) ORDER BY t.ord) FROM unnest($2::oid[], $3::int[]) WITH ORDINALITY AS t(oid, mod, ord)) AS types,
         (SELECT array_agg(attname::text) FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND attnotnull AND NOT attisdropped) AS not_null,
         (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i
            CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE i.indrelid = $1 AND i.indisprimary) AS primary_key,
         (SELECT json_agg(json_build_object('type', format_type(e.oid, NULL), 'schema', n.nspname, 'name', e.typname,
                   'labels', (SELECT array_agg(l.enumlabel::text ORDER BY l.enumsortorder) FROM pg_enum l WHERE l.enumtypid = e.oid)) ORDER BY e.oid)
            FROM pg_type e JOIN pg_namespace n ON n.oid = e.typnamespace
          WHERE e.typtype = 'e'
            AND e.oid IN (SELECT CASE WHEN c.typcategory = 'A' AND c.typelem <> 0 THEN c.typelem ELSE c.oid END FROM pg_type c WHERE c.oid = ANY ($2::oid[]))) AS enums`;

/**
 * Completes a relation as the stream described it with what the receiver needs to cast values
 * and to create the backup table and its enum types.
 *
 * Lookups are cached per relation description; a lookup in flight is shared by every caller
 * asking for the same description, and a failed one is forgotten, never cached. An enum's labels
 * are not part of that description: `resolveFor` looks them up again when a batch holds a value
 * the cached labels lack.
 */
export class RelationMetadata {
  private readonly cache = new Map<string, Promise<Relation>>();

  constructor(private readonly catalog: CatalogQuery) {}

  /**
   * The metadata of a batch's relations. A relation whose events hold an enum value its cached
   * labels lack (the source ran `ALTER TYPE ... ADD VALUE` since) is looked up again, once:
   * labels are never removed, so the current catalog has every label the stream can carry.
   */
  resolveFor(relations: Iterable<DecodedRelation>, values: UserTypedValues): Promise<Relation[]> {
    return Promise.all(
      [...relations].map(async (decoded) => {
        const relation = await this.resolve(decoded);
        return hasUnlistedEnumLabel(relation, (column) => values.valuesOf(decoded.relationId, column)) ? this.resolve(decoded, { fresh: true }) : relation;
      }),
    );
  }

  /** `fresh`: look up again rather than answer from the cache (the new answer is cached). */
  resolve(relation: DecodedRelation, options: { fresh?: boolean } = {}): Promise<Relation> {
    const signature = `${relation.relationId}:${relation.schema}.${relation.table}:${relation.replicaIdentity}:${relation.columns.map((column) => `${column.name}/${column.typeOid}/${column.typeMod}/${column.isKey ? 1 : 0}`).join(',')}`;
    let resolved = options.fresh === true ? undefined : this.cache.get(signature);
    if (resolved === undefined) {
      const lookup = this.lookUp(relation);
      this.cache.set(signature, lookup);
      lookup.catch(() => {
        if (this.cache.get(signature) === lookup) this.cache.delete(signature);
      });
      resolved = lookup;
    }
    return resolved;
  }

  private async lookUp(relation: DecodedRelation): Promise<Relation> {
    const [catalog] = await this.catalog.query<CatalogRow>(CATALOG_QUERY, [relation.relationId, relation.columns.map((column) => column.typeOid), relation.columns.map((column) => column.typeMod)]);
    // Under any other search_path a visible user-defined type comes out without its schema,
    // which the backup cannot resolve: such an answer must never be used (or cached).
    if (catalog === undefined || catalog.search_path !== SourceCatalog.SEARCH_PATH) {
      throw new Error(`source catalog lookup ran under search_path ${JSON.stringify(catalog?.search_path)} instead of ${SourceCatalog.SEARCH_PATH}; type names would be ambiguous`);
    }
    const notNull = new Set(catalog.not_null ?? []);
    const flagged = relation.columns.filter((column) => column.isKey).map((column) => column.name);
    // Under REPLICA IDENTITY FULL every column is flagged: the key is the primary key, if any.
    const keyColumns = relation.replicaIdentity === 'f' ? (catalog.primary_key ?? []) : relation.replicaIdentity === 'n' ? [] : flagged;
    const enums: EnumType[] = (catalog.enums ?? []).map((found) => ({ type: found.type, schema: found.schema, name: found.name, labels: found.labels ?? [] }));
    return {
      schema: relation.schema,
      table: relation.table,
      replica_identity: IDENTITY[relation.replicaIdentity],
      // Nullability from the catalog alone: being part of the replica identity says nothing
      // (under FULL every column is), and a NOT NULL the source lacks would refuse its rows.
      columns: relation.columns.map((column, index) => ({ name: column.name, type: catalog.types[index]!, not_null: notNull.has(column.name) })),
      key_columns: keyColumns.filter((name) => relation.columns.some((column) => column.name === name)),
      ...(enums.length > 0 ? { enum_types: enums } : {}),
    };
  }
}
