import { type DecodedRelation } from './decoded-relation.js';
import { FIRST_USER_OID } from '../batch/user-typed-values.js';

/**
 * The parts of a change's JSON that depend only on its relation, made once per relation
 * description (a Relation message) instead of once per change: the event's opening up to its
 * `timestamp`, each column's member name, and which columns are keys or of a user-defined type.
 * Each piece is exactly what `JSON.stringify` writes for it.
 */
export class RelationJson {
  /** `{"schema":…,"table":…,"timestamp":` */
  readonly head: Buffer;
  /** `"name":` per column, and the same after a comma. */
  readonly members: readonly Buffer[];
  readonly commaMembers: readonly Buffer[];
  /** `"name"` per column, and the same after a comma (for `unchanged_toast`). */
  readonly names: readonly Buffer[];
  readonly commaNames: readonly Buffer[];
  readonly isKey: readonly boolean[];
  /** Per column: of a user-defined type, whose values the enum check may need. */
  readonly userTyped: readonly boolean[];

  constructor(readonly relation: DecodedRelation) {
    this.head = Buffer.from(`{"schema":${JSON.stringify(relation.schema)},"table":${JSON.stringify(relation.table)},"timestamp":`, 'utf8');
    const names = relation.columns.map((column) => JSON.stringify(column.name));
    this.members = names.map((name) => Buffer.from(`${name}:`, 'utf8'));
    this.commaMembers = names.map((name) => Buffer.from(`,${name}:`, 'utf8'));
    this.names = names.map((name) => Buffer.from(name, 'utf8'));
    this.commaNames = names.map((name) => Buffer.from(`,${name}`, 'utf8'));
    this.isKey = relation.columns.map((column) => column.isKey);
    this.userTyped = relation.columns.map((column) => column.typeOid >= FIRST_USER_OID);
  }
}
