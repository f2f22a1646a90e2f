import { createPrivateKey, createPublicKey } from 'node:crypto';
import { inject } from 'vitest';
import {
  type Batch,
  type ChangeEvent,
  type DecryptionKey,
  generateEd25519KeyPair,
  generateRsaKeyPair,
  keyId,
  type PemKeyPair,
  type Relation,
  type RecipientKey,
  type ContentKeys,
  sealBatchV2,
  sealBatchV3,
  type SignatureScheme,
  signWebhook,
  type TrustedKey,
} from '@storx-backup/protocol';
import { createLogger } from '@storx-backup/service-kit';
import { createDatabase } from '@storx-backup/test-postgres';
import type { KeyObject } from 'node:crypto';
import type pg from 'pg';
import { buildApp, type AppOptions } from '../src/app.js';
import { parseAllowedTable } from '../src/config.js';
import { type BackupDb, createBackupDb } from '../src/db.js';
import { migrateState } from '../src/state/migrations.js';

export interface TestKeys {
  recipient: RecipientKey;
  decryptionKeys: DecryptionKey[];
  signingKey: KeyObject;
  trustedKeys: TrustedKey[];
  /** Signs validly, but is not in the trust list. */
  forgerKey: KeyObject;
  /** The same keys as PEM, for tests that write key files. */
  pem: { receiver: PemKeyPair; sender: PemKeyPair };
}

export function testKeys(): TestKeys {
  const rsa = generateRsaKeyPair(2048);
  const privateKey = createPrivateKey(rsa.privateKeyPem);
  const publicKey = createPublicKey(rsa.publicKeyPem);
  const kid = keyId(publicKey);
  const sender = generateEd25519KeyPair();
  const senderPublic = createPublicKey(sender.publicKeyPem);
  return {
    recipient: { key: publicKey, kid },
    decryptionKeys: [{ key: privateKey, kid }],
    signingKey: createPrivateKey(sender.privateKeyPem),
    trustedKeys: [{ key: senderPublic, kid: keyId(senderPublic) }],
    forgerKey: createPrivateKey(generateEd25519KeyPair().privateKeyPem),
    pem: { receiver: rsa, sender },
  };
}

export const STATE_SCHEMA = 'backuptools_state';

export interface TestReceiver {
  app: ReturnType<typeof buildApp>;
  db: BackupDb;
  /** The pool behind `db` (the applier's transactions check clients out of it). */
  pool: pg.Pool;
  url: string;
  keys: TestKeys;
  close(): Promise<void>;
}

/** A receiver app (not listening: use app.inject) on a fresh backup database. */
export async function testReceiver(overrides: Partial<AppOptions> & { databaseUrl?: string; tables?: string[] } = {}): Promise<TestReceiver> {
  const url = overrides.databaseUrl ?? (await createDatabase(inject('pgBackupUrl'), 'receiver'));
  const logger = createLogger({ name: 'receiver-test', level: 'silent' });
  const { db, pool } = createBackupDb(url, 4, logger);
  if (overrides.databaseUrl === undefined) await migrateState(db, STATE_SCHEMA);
  const keys = testKeys();
  const app = buildApp({
    db,
    pool,
    logger,
    decryptionKeys: keys.decryptionKeys,
    trustedKeys: keys.trustedKeys,
    allowedTables: (overrides.tables ?? ['objects', 'segments', 'types_matrix', 'toasty', 'keyless', 'moves', 'people', 'nullkeyed']).map((entry) => parseAllowedTable(entry, 'satellite/0')),
    schemaMapping: new Map(),
    autoCreateTables: true,
    stateSchema: STATE_SCHEMA,
    defaultSchema: 'satellite/0',
    bodyLimitBytes: 1024 * 1024,
    timestampToleranceSeconds: 300,
    acceptUnsignedSeedV1: false,
    ...overrides,
  });
  await app.ready();
  return {
    app,
    db,
    pool,
    url,
    keys,
    close: async () => {
      await app.close();
      await db.destroy();
    },
  };
}

export interface InjectRequest {
  method: 'POST';
  url: '/webhook';
  headers: Record<string, string>;
  payload: string;
}

/** A signed v2 request for `batch`, as the replicator sends it (signed `v1a` unless `scheme` says otherwise). */
export async function signedRequest(batch: Batch, keys: TestKeys, options: { signingKey?: KeyObject; now?: number; scheme?: SignatureScheme } = {}): Promise<InjectRequest> {
  const sealed = await sealBatchV2(batch, keys.recipient);
  const headers = signWebhook({ id: sealed.id, timestamp: options.now ?? Math.floor(Date.now() / 1000), body: sealed.body, signingKeys: [options.signingKey ?? keys.signingKey], scheme: options.scheme ?? 'v1a' });
  return { method: 'POST', url: '/webhook', headers: { ...headers, 'content-type': sealed.contentType }, payload: sealed.body };
}

/** A v3 request: the body is bytes. */
export type BinaryInjectRequest = Omit<InjectRequest, 'payload'> & { payload: Buffer };

/** A signed v3 request for `batch` (signed `v1d` unless `scheme` says otherwise; `contentKeys` shares a content key between requests). */
export function signedV3Request(batch: Batch, keys: TestKeys, options: { signingKey?: KeyObject; now?: number; scheme?: SignatureScheme; contentKeys?: ContentKeys; recipient?: RecipientKey } = {}): BinaryInjectRequest {
  const sealed = sealBatchV3(batch, options.recipient ?? keys.recipient, options.contentKeys);
  const headers = signWebhook({ id: sealed.id, timestamp: options.now ?? Math.floor(Date.now() / 1000), body: sealed.body, signingKeys: [options.signingKey ?? keys.signingKey], scheme: options.scheme ?? 'v1d' });
  return { method: 'POST', url: '/webhook', headers: { ...headers, 'content-type': sealed.contentType }, payload: sealed.body };
}

export const OBJECTS: Relation = {
  schema: 'satellite/0',
  table: 'objects',
  replica_identity: 'default',
  columns: [
    { name: 'project_id', type: 'uuid', not_null: true },
    { name: 'object_key', type: 'bytea', not_null: true },
    { name: 'version', type: 'bigint', not_null: true },
    { name: 'total_size', type: 'numeric(38,10)', not_null: false },
    { name: 'created_at', type: 'timestamp with time zone', not_null: true },
    { name: 'metadata', type: 'jsonb', not_null: false },
  ],
  key_columns: ['project_id', 'object_key', 'version'],
};

let lsnCounter = 0x1000n;

/** A fresh, increasing LSN as text. */
export function nextLsn(): string {
  lsnCounter += 0x100n;
  return `${(lsnCounter >> 32n).toString(16).toUpperCase()}/${(lsnCounter & 0xffffffffn).toString(16).toUpperCase()}`;
}

type EventBody = Pick<ChangeEvent, 'operation' | 'data' | 'old_data' | 'unchanged_toast'> & { lsn?: string; seq?: number };

/** One whole-transaction batch of `events` on `relations`, committed at a fresh LSN. */
export function batchOf(relations: Relation[], events: (EventBody & { table?: string; schema?: string })[], options: { sourceId?: string; commitLsn?: string; chunk?: Batch['chunk'] } = {}): Batch {
  const commitLsn = options.commitLsn ?? nextLsn();
  const first = relations[0]!;
  return {
    version: 2,
    source_id: options.sourceId ?? 'storx-test',
    slot: 'backuptools_slot',
    commit_lsn: commitLsn,
    chunk: options.chunk ?? { index: 0, last: true },
    relations,
    events: events.map(
      (event, seq) =>
        ({
          schema: event.schema ?? first.schema,
          table: event.table ?? first.table,
          timestamp: new Date().toISOString(),
          lsn: commitLsn,
          commit_lsn: commitLsn,
          xid: 1000,
          seq,
          ...event,
        }) as ChangeEvent,
    ),
  };
}

export function objectRow(index: number, overrides: Record<string, string | null> = {}): Record<string, string | null> {
  return {
    project_id: '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f',
    object_key: `\\x${index.toString(16).padStart(8, '0')}`,
    version: '1',
    total_size: `${index}.0123456789`,
    created_at: '2025-12-06 10:20:00.123456+00',
    metadata: '{"n": 1}',
    ...overrides,
  };
}

/** All rows of a backup table as text, in key order: what "byte-exact" is checked against. */
export async function tableText(db: BackupDb, schema: string, table: string, orderBy = '1'): Promise<string[]> {
  const { sql } = await import('kysely');
  const { rows } = await sql<{ row: string }>`SELECT t::text AS row FROM ${sql.id(schema, table)} AS t ORDER BY ${sql.raw(orderBy)}`.execute(db);
  return rows.map((row) => row.row);
}
