/**
 * Where a tuple (TupleData: a 16-bit column count, then per column 't' + 32-bit length + text,
 * 'n' for NULL or 'u' for an unchanged TOAST value) starts in the message's buffer. Values are
 * not decoded into strings: the assembler writes their JSON straight from these bytes, during
 * the same call (the buffer is the connection's, reused by the next read).
 */
export type TupleAt = number;

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
  | { tag: 'insert'; relationId: number; buffer: Buffer; newTuple: TupleAt }
  | { tag: 'update'; relationId: number; buffer: Buffer; oldKind: 'K' | 'O' | undefined; oldTuple: TupleAt | undefined; newTuple: TupleAt }
  | { tag: 'delete'; relationId: number; buffer: Buffer; oldKind: 'K' | 'O'; oldTuple: TupleAt }
  | { tag: 'truncate'; cascade: boolean; restartIdentity: boolean; relationIds: number[] }
  | { tag: 'message'; transactional: boolean; lsn: bigint; prefix: string }
  | { tag: 'origin' }
  | { tag: 'type' };
