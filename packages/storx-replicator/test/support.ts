import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type pg from 'pg';
import { generateEd25519KeyPair, generateRsaKeyPair, loadRsaPrivateKey, loadVerifyingKey, writeKeyPair } from '@storx-backup/protocol';
import { loadReceiverConfig, startReceiver, type RunningReceiver } from '@storx-backup/backuptools-receiver';
import { captureRun, createLogger, type Logger } from '@storx-backup/service-kit';
import { connect, createDatabase, dropDatabase, sameDigest, storjSchemaDdl, tableDigest as sharedTableDigest, type TableDigest, waitFor } from '@storx-backup/test-postgres';
import { main } from '../src/cli.js';
import { loadReplicatorConfig, type ReplicatorConfig } from '../src/config.js';
import { Replicator } from '../src/replicator.js';

export const SCHEMA = 'satellite/0';

/**
 * The Storj-like tables of the seed, in the schema `satellite/0` (docker/local/source-init.sql's),
 * and a text column on segments for tests that need a free-form value.
 */
export const SOURCE_DDL = [...storjSchemaDdl(), `ALTER TABLE "${SCHEMA}".segments ADD COLUMN note text`];

/** A source URL whose search_path is the seed's schema, as in the seed's connection string. */
export function withSearchPath(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('options', `--search_path="${SCHEMA}"`);
  return parsed.toString();
}

export interface Pair {
  sourceUrl: string;
  backupUrl: string;
  source: pg.Client;
  backup: pg.Client;
  receiver: RunningReceiver;
  keyDir: string;
  /** Replicator configuration for this pair (flags override the defaults below). */
  config(flags?: Record<string, string>): ReplicatorConfig;
  close(): Promise<void>;
}

export const quietLogger: Logger = createLogger({ name: 'test', level: process.env['TEST_LOG_LEVEL'] === undefined ? 'silent' : (process.env['TEST_LOG_LEVEL'] as 'info') });

/** A fresh source database with the seed's tables, a fresh backup database and a running receiver. */
/** `backupServerUrl`: a backup cluster of the test's own (its superuser URL), instead of the shared one. */
export async function startPair(options: { ddl?: string[]; receiverFlags?: Record<string, string>; backupServerUrl?: string } = {}): Promise<Pair> {
  const sourceUrl = withSearchPath(await createDatabase(inject('pgSourceUrl'), 'src'));
  const backupUrl = await createDatabase(options.backupServerUrl ?? inject('pgBackupUrl'), 'bak');
  const source = await connect(sourceUrl);
  for (const statement of options.ddl ?? SOURCE_DDL) await source.query(statement);
  const backup = await connect(backupUrl);

  const keyDir = await mkdtemp(join(tmpdir(), 'replicator-keys-'));
  const receiverKeys = await writeKeyPair(keyDir, 'backuptools', generateRsaKeyPair(2048));
  const senderKeys = await writeKeyPair(keyDir, 'storx_signing', generateEd25519KeyPair());
  await loadRsaPrivateKey(receiverKeys.privateKeyPath);
  await loadVerifyingKey(senderKeys.publicKeyPath);
  const receiverConfig = loadReceiverConfig({
    env: {},
    configFile: undefined,
    flags: new Map(Object.entries({ 'database-url': backupUrl, 'listen-host': '127.0.0.1', 'listen-port': '0', 'private-keys': receiverKeys.privateKeyPath, 'trusted-sender-keys': senderKeys.publicKeyPath, ...options.receiverFlags })),
  });
  const receiver = await startReceiver(receiverConfig, quietLogger);

  return {
    sourceUrl,
    backupUrl,
    source,
    backup,
    receiver,
    keyDir,
    config: (flags = {}) =>
      loadReplicatorConfig({
        env: {},
        configFile: false,
        flags: new Map(
          Object.entries({
            database: sourceUrl,
            'replication.webhook-url': `${receiver.url}/webhook`,
            'replication.webhook-public-key': receiverKeys.publicKeyPath,
            'replication.signing-key': senderKeys.privateKeyPath,
            'replication.slot-name': `slot_${Math.random().toString(36).slice(2, 10)}`,
            'replication.retry-delay': '50ms',
            'replication.max-retry-delay': '500ms',
            'replication.status-interval': '200ms',
            ...flags,
          }),
        ),
      }),
    close: async () => {
      await receiver.close();
      await source.end();
      await backup.end();
      await dropDatabase(sourceUrl); // and its slots: they count against the shared cluster's max_replication_slots
      await rm(keyDir, { recursive: true, force: true }); // private keys never outlive the test
    },
  };
}

export interface RunningReplicator {
  replicator: Replicator;
  /** Settles when run() ends. */
  done: Promise<void>;
  stop(): Promise<void>;
}

export function runReplicator(config: ReplicatorConfig, logger: Logger = quietLogger): RunningReplicator {
  const replicator = new Replicator(config, logger);
  const done = replicator.run();
  done.catch(() => undefined);
  return {
    replicator,
    done,
    stop: async () => {
      await replicator.stop();
      await done;
    },
  };
}

/** The digest of a `satellite/0` table (count, ordered and multiset hashes): equal on both sides means equal tables. */
export function tableDigest(client: pg.Client, table: string, orderBy: string): Promise<TableDigest> {
  return sharedTableDigest(client, `"${SCHEMA}".${table}`, orderBy);
}

export async function backupTableExists(backup: pg.Client, table: string): Promise<boolean> {
  const { rows } = await backup.query<{ t: string | null }>(`SELECT to_regclass('"${SCHEMA}".${table}')::text AS t`);
  return rows[0]!.t !== null;
}

/** Polls until the backup's table equals the source's (or the deadline passes). */
export async function waitForTableEqual(pair: Pair, table: string, orderBy: string, timeoutMs = 30_000): Promise<TableDigest> {
  let last = '';
  return waitFor(
    async () => {
      const expected = await tableDigest(pair.source, table, orderBy);
      if (!(await backupTableExists(pair.backup, table))) {
        last = `backup table missing; source has ${expected.count} rows`;
        return undefined;
      }
      const actual = await tableDigest(pair.backup, table, orderBy);
      last = `source ${JSON.stringify(expected)} backup ${JSON.stringify(actual)}`;
      return sameDigest(expected, actual) ? actual : undefined;
    },
    { description: `backup ${table} to equal the source (${last})`, timeoutMs, intervalMs: 100 },
  );
}

export async function slotConfirmed(source: pg.Client, slot: string): Promise<string | null> {
  const { rows } = await source.query<{ lsn: string | null }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  return rows[0]?.lsn ?? null;
}

export const OBJECTS_KEY = 'project_id, bucket_name, object_key, version';

/** The command-line flags that point a command (verify, say) at the pair as `config` does, for `tables`. */
export function pairFlags(pair: Pair, config: ReplicatorConfig, tables: string): string[] {
  return [
    '--database', pair.sourceUrl,
    '--replication.webhook-url', config.webhookUrl.href,
    '--replication.webhook-public-key', join(pair.keyDir, 'backuptools_public.pem'),
    '--replication.signing-key', join(pair.keyDir, 'storx_signing_private.pem'),
    '--replication.slot-name', config.slotName,
    '--replication.tables', tables,
    '--log-level', 'silent',
  ];
}

/**
 * A config file written by the real `setup` command with the pair's settings (as an operator
 * would), and an empty one, in a fresh directory.
 */
export async function configuredBySetup(pair: Pair, prefix: string): Promise<{ dir: string; configPath: string; emptyConfig: string }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const configPath = join(dir, 'config.yaml');
  const setup = await captureRun(main, [
    'setup', '--config', configPath,
    '--database', pair.sourceUrl,
    '--replication.webhook-url', `${pair.receiver.url}/webhook`,
    '--replication.webhook-public-key', join(pair.keyDir, 'backuptools_public.pem'),
    '--replication.signing-key', join(pair.keyDir, 'storx_signing_private.pem'),
  ]);
  if (setup.code !== 0) throw new Error(`setup failed: ${setup.stderr}`);
  const emptyConfig = join(dir, 'empty.yaml');
  await writeFile(emptyConfig, '');
  return { dir, configPath, emptyConfig };
}
