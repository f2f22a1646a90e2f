// The replicator's decode path before issue 14 (commit 9274c0b: a string per value, an event object
// per change, JSON.stringify per batch), kept only as the tests' oracle for the bytes written now.
/** A column value in a pgoutput tuple: text, NULL, or "unchanged TOAST" (not sent). */
export type TupleValue = string | null | typeof UNCHANGED_TOAST;

/** Marks a column whose large out-of-line value did not change and was not sent ('u'). */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged-toast');

export interface RelationColumn {
  /** Bit 1: part of the replica identity key. */
  isKey: boolean;
  name: string;
  typeOid: number;
  typeMod: number;
}

/** The pgoutput messages (protocol version 1) the replicator uses; LSNs are 64-bit integers. */
export type PgoutputMessage =
  | { tag: 'begin'; finalLsn: bigint; commitTime: bigint; xid: number }
  | { tag: 'commit'; commitLsn: bigint; endLsn: bigint; commitTime: bigint }
  | { tag: 'relation'; relationId: number; schema: string; name: string; replicaIdentity: 'd' | 'n' | 'f' | 'i'; columns: RelationColumn[] }
  | { tag: 'insert'; relationId: number; newTuple: TupleValue[] }
  | { tag: 'update'; relationId: number; oldKind: 'K' | 'O' | undefined; oldTuple: TupleValue[] | undefined; newTuple: TupleValue[] }
  | { tag: 'delete'; relationId: number; oldKind: 'K' | 'O'; oldTuple: TupleValue[] }
  | { tag: 'truncate'; cascade: boolean; restartIdentity: boolean; relationIds: number[] }
  | { tag: 'message'; transactional: boolean; lsn: bigint; prefix: string }
  | { tag: 'origin' }
  | { tag: 'type' };
