// pgoutput messages (protocol version 1) as bytes, for tests and the micro-benchmark: the
// format the walsender sends (src/backend/replication/logical/proto.c), so the decoder and the
// assembler are fed exactly what they get from a real stream.

/** A value in a tuple: text, NULL, or an unchanged TOAST value. */
export type TupleCell = string | Uint8Array | null | typeof UNCHANGED;
export const UNCHANGED: unique symbol = Symbol('unchanged');

export interface ColumnSpec {
  name: string;
  isKey?: boolean;
  typeOid?: number;
  typeMod?: number;
}

class Bytes {
  private readonly parts: Buffer[] = [];
  byte(value: number): this {
    this.parts.push(Buffer.from([value]));
    return this;
  }
  uint16(value: number): this {
    const part = Buffer.alloc(2);
    part.writeUInt16BE(value);
    this.parts.push(part);
    return this;
  }
  uint32(value: number): this {
    const part = Buffer.alloc(4);
    part.writeUInt32BE(value >>> 0);
    this.parts.push(part);
    return this;
  }
  int32(value: number): this {
    const part = Buffer.alloc(4);
    part.writeInt32BE(value);
    this.parts.push(part);
    return this;
  }
  uint64(value: bigint): this {
    const part = Buffer.alloc(8);
    part.writeBigUInt64BE(BigInt.asUintN(64, value));
    this.parts.push(part);
    return this;
  }
  cstring(text: string): this {
    this.parts.push(Buffer.from(text, 'utf8'), Buffer.from([0]));
    return this;
  }
  tuple(cells: readonly TupleCell[]): this {
    this.uint16(cells.length);
    for (const cell of cells) {
      if (cell === null) this.byte(0x6e);
      else if (cell === UNCHANGED) this.byte(0x75);
      else {
        const text = typeof cell === 'string' ? Buffer.from(cell, 'utf8') : Buffer.from(cell);
        this.byte(0x74).uint32(text.length);
        this.parts.push(text);
      }
    }
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export function beginBytes(finalLsn: bigint, commitTime: bigint, xid: number): Buffer {
  return new Bytes().byte(0x42).uint64(finalLsn).uint64(commitTime).uint32(xid).done();
}

export function commitBytes(commitLsn: bigint, endLsn: bigint, commitTime: bigint): Buffer {
  return new Bytes().byte(0x43).byte(0).uint64(commitLsn).uint64(endLsn).uint64(commitTime).done();
}

export function relationBytes(relationId: number, schema: string, name: string, replicaIdentity: 'd' | 'n' | 'f' | 'i', columns: readonly ColumnSpec[]): Buffer {
  const bytes = new Bytes().byte(0x52).uint32(relationId).cstring(schema).cstring(name).byte(replicaIdentity.charCodeAt(0)).uint16(columns.length);
  for (const column of columns) bytes.byte(column.isKey ? 1 : 0).cstring(column.name).uint32(column.typeOid ?? 25).int32(column.typeMod ?? -1);
  return bytes.done();
}

export function insertBytes(relationId: number, cells: readonly TupleCell[]): Buffer {
  return new Bytes().byte(0x49).uint32(relationId).byte(0x4e).tuple(cells).done();
}

export function updateBytes(relationId: number, cells: readonly TupleCell[], old?: { kind: 'K' | 'O'; cells: readonly TupleCell[] }): Buffer {
  const bytes = new Bytes().byte(0x55).uint32(relationId);
  if (old !== undefined) bytes.byte(old.kind.charCodeAt(0)).tuple(old.cells);
  return bytes.byte(0x4e).tuple(cells).done();
}

export function deleteBytes(relationId: number, kind: 'K' | 'O', cells: readonly TupleCell[]): Buffer {
  return new Bytes().byte(0x44).uint32(relationId).byte(kind.charCodeAt(0)).tuple(cells).done();
}

export function truncateBytes(relationIds: readonly number[], options = 0): Buffer {
  const bytes = new Bytes().byte(0x54).uint32(relationIds.length).byte(options);
  for (const id of relationIds) bytes.uint32(id);
  return bytes.done();
}
