import type { RelationColumn } from './pgoutput-messages.js';

/** A relation as the stream described it (the description in force when the change was made). */
export interface DecodedRelation {
  relationId: number;
  schema: string;
  table: string;
  replicaIdentity: 'd' | 'n' | 'f' | 'i';
  columns: readonly RelationColumn[];
}

/**
 * True when `relations` holds another relation id under the same schema and table name: the
 * table was dropped and created again. One batch (or chunk) describes each table name once.
 */
export function hasOtherWithName(relations: ReadonlyMap<number, DecodedRelation>, id: number, named: { schema: string; table: string }): boolean {
  for (const [otherId, other] of relations) {
    if (otherId !== id && other.schema === named.schema && other.table === named.table) return true;
  }
  return false;
}
