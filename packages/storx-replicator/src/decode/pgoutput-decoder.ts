import type { PgoutputMessage, RelationColumn, TupleAt } from './pgoutput-messages.js';

/**
 * Decodes one pgoutput message (protocol version 1; the bytes after the XLogData header).
 *
 * Values are kept as PostgreSQL's text output, never parsed: no Date, no Number, no type
 * parsers. A row change is not decoded into strings at all: the message gives where its tuples
 * lie in `buffer`, which is a view into the connection's read buffer that the next socket read
 * overwrites, so it must be used before the call that received it returns. Names (relations,
 * columns) are decoded into fresh strings.
 */
export function decodePgoutput(buffer: Buffer, offset: number): PgoutputMessage {
  const reader = new Reader(buffer, offset);
  const tag = reader.byte();
  switch (tag) {
    case 0x42 /* B */:
      return { tag: 'begin', finalLsn: reader.uint64(), commitTime: reader.int64(), xid: reader.uint32() };
    case 0x43 /* C */: {
      reader.byte(); // flags, unused
      return { tag: 'commit', commitLsn: reader.uint64(), endLsn: reader.uint64(), commitTime: reader.int64() };
    }
    case 0x52 /* R */: {
      const relationId = reader.uint32();
      const schema = reader.cstring();
      const name = reader.cstring();
      const replicaIdentity = String.fromCharCode(reader.byte()) as 'd' | 'n' | 'f' | 'i';
      const count = reader.uint16();
      const columns: RelationColumn[] = [];
      for (let index = 0; index < count; index += 1) {
        const flags = reader.byte();
        columns.push({ isKey: (flags & 1) === 1, name: reader.cstring(), typeOid: reader.uint32(), typeMod: reader.int32() });
      }
      return { tag: 'relation', relationId, schema, name, replicaIdentity, columns };
    }
    case 0x49 /* I */: {
      const relationId = reader.uint32();
      reader.expect(0x4e /* N */);
      return { tag: 'insert', relationId, buffer, newTuple: reader.position };
    }
    case 0x55 /* U */: {
      const relationId = reader.uint32();
      let kind = reader.byte();
      let oldKind: 'K' | 'O' | undefined;
      let oldTuple: TupleAt | undefined;
      if (kind === 0x4b /* K */ || kind === 0x4f /* O */) {
        oldKind = kind === 0x4b ? 'K' : 'O';
        oldTuple = reader.tuple();
        kind = reader.byte();
      }
      if (kind !== 0x4e /* N */) throw new Error(`pgoutput: UPDATE without a new tuple (byte 0x${kind.toString(16)})`);
      return { tag: 'update', relationId, buffer, oldKind, oldTuple, newTuple: reader.position };
    }
    case 0x44 /* D */: {
      const relationId = reader.uint32();
      const kind = reader.byte();
      if (kind !== 0x4b && kind !== 0x4f) throw new Error(`pgoutput: DELETE without an old tuple (byte 0x${kind.toString(16)})`);
      return { tag: 'delete', relationId, buffer, oldKind: kind === 0x4b ? 'K' : 'O', oldTuple: reader.position };
    }
    case 0x54 /* T */: {
      const count = reader.uint32();
      const options = reader.byte();
      const relationIds: number[] = [];
      for (let index = 0; index < count; index += 1) relationIds.push(reader.uint32());
      return { tag: 'truncate', cascade: (options & 1) === 1, restartIdentity: (options & 2) === 2, relationIds };
    }
    case 0x4d /* M */: {
      const transactional = reader.byte() === 1;
      return { tag: 'message', transactional, lsn: reader.uint64(), prefix: reader.cstring() };
    }
    case 0x4f /* O */:
      return { tag: 'origin' };
    case 0x59 /* Y */:
      return { tag: 'type' };
    default:
      throw new Error(`pgoutput: unexpected message type ${JSON.stringify(String.fromCharCode(tag))} (0x${tag.toString(16)}); is the slot using pgoutput with proto_version 1?`);
  }
}

class Reader {
  constructor(
    private readonly buffer: Buffer,
    private offset: number,
  ) {}

  /** Where the next byte is read (a message's last tuple is read by the assembler, from here). */
  get position(): number {
    return this.offset;
  }

  byte(): number {
    return this.buffer[this.offset++]!;
  }

  expect(value: number): void {
    const actual = this.byte();
    if (actual !== value) throw new Error(`pgoutput: expected byte 0x${value.toString(16)}, got 0x${actual.toString(16)}`);
  }

  uint16(): number {
    const value = this.buffer.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  uint32(): number {
    const value = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  int32(): number {
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  uint64(): bigint {
    const value = this.buffer.readBigUInt64BE(this.offset);
    this.offset += 8;
    return value;
  }

  int64(): bigint {
    const value = this.buffer.readBigInt64BE(this.offset);
    this.offset += 8;
    return value;
  }

  cstring(): string {
    const end = this.buffer.indexOf(0, this.offset);
    if (end < 0) throw new Error('pgoutput: unterminated string');
    const value = this.buffer.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return value;
  }

  /** Where the tuple starts; moves past it (checking its shape, reading no value): an UPDATE's old tuple. */
  tuple(): TupleAt {
    const at = this.offset;
    const count = this.uint16();
    for (let index = 0; index < count; index += 1) {
      const kind = this.byte();
      if (kind === 0x74 /* t */) this.offset += 4 + this.buffer.readUInt32BE(this.offset);
      else if (kind !== 0x6e /* n */ && kind !== 0x75 /* u */) throw unsupportedKind(kind);
    }
    if (this.offset > this.buffer.length) throw new Error('pgoutput: tuple runs past the end of the message');
    return at;
  }
}

export function unsupportedKind(kind: number): Error {
  return new Error(`pgoutput: unsupported tuple value kind ${JSON.stringify(String.fromCharCode(kind))} (binary mode is not used)`);
}
