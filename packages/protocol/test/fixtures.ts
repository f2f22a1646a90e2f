import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { type Batch, generateEd25519KeyPair, generateRsaKeyPair, keyId, type KeyId } from '../src/index.js';

export interface RsaFixture {
  privateKeyPem: string;
  publicKeyPem: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  kid: KeyId;
}

export interface Ed25519Fixture {
  privateKey: KeyObject;
  publicKey: KeyObject;
  kid: KeyId;
  /** The public half as a receiver's trust-list entry. */
  trusted: { key: KeyObject; kid: KeyId };
}

/** A fresh RSA-2048 pair (the smallest allowed: keeps per-byte tamper loops fast). */
export function rsaFixture(): RsaFixture {
  const pair = generateRsaKeyPair(2048);
  const privateKey = createPrivateKey(pair.privateKeyPem);
  return { ...pair, privateKey, publicKey: createPublicKey(pair.publicKeyPem), kid: keyId(privateKey) };
}

export function ed25519Fixture(): Ed25519Fixture {
  const pair = generateEd25519KeyPair();
  const privateKey = createPrivateKey(pair.privateKeyPem);
  const publicKey = createPublicKey(pair.publicKeyPem);
  const kid = keyId(privateKey);
  return { privateKey, publicKey, kid, trusted: { key: publicKey, kid } };
}

/** A small but complete batch: one transaction with an insert, an update with an unchanged TOAST column, a delete. */
export function sampleBatch(overrides: Partial<Batch> = {}): Batch {
  const common = { schema: 'satellite/0', table: 'objects', timestamp: '2025-12-06T10:20:00.123456Z', commit_lsn: '16/B374D9A0', xid: 7481 };
  return {
    version: 2,
    source_id: 'storx-1',
    slot: 'backuptools_slot',
    commit_lsn: '16/B374D9A0',
    chunk: { index: 0, last: true },
    relations: [
      {
        schema: 'satellite/0',
        table: 'objects',
        replica_identity: 'default',
        columns: [
          { name: 'project_id', type: 'uuid', not_null: true },
          { name: 'object_key', type: 'bytea', not_null: true },
          { name: 'total_size', type: 'numeric(38,10)', not_null: false },
          { name: 'created_at', type: 'timestamp with time zone', not_null: true },
          { name: 'metadata', type: 'jsonb', not_null: false },
          { name: 'note', type: 'text', not_null: false },
        ],
        key_columns: ['project_id', 'object_key'],
      },
    ],
    events: [
      {
        operation: 'INSERT',
        ...common,
        lsn: '16/B374D848',
        seq: 0,
        data: {
          project_id: '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f',
          object_key: '\\x00ff10',
          total_size: '12345678901234567890123456.0123456789',
          created_at: '2025-12-06 10:20:00.123456+00',
          metadata: 'null',
          note: null,
        },
        old_data: null,
        unchanged_toast: [],
      },
      {
        operation: 'UPDATE',
        ...common,
        lsn: '16/B374D900',
        seq: 1,
        data: { project_id: '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', object_key: '\\x00ff10', total_size: 'NaN', created_at: 'infinity', metadata: '{"a": [1, 2.50]}' },
        old_data: null,
        unchanged_toast: ['note'],
      },
      {
        operation: 'DELETE',
        ...common,
        lsn: '16/B374D960',
        seq: 2,
        data: null,
        old_data: { project_id: '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', object_key: '\\x00ff10' },
        unchanged_toast: [],
      },
    ],
    ...overrides,
  };
}
