import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { createLogger, type Logger } from '@storx-backup/service-kit';
import { buildApp } from './app.js';
import type { ReceiverConfig } from './config.js';
import { createBackupDb } from './db.js';
import { loadReceiverKeys } from './receiver-keys.js';
import { migrateState } from './state/migrations.js';

export interface RunningReceiver {
  app: FastifyInstance;
  /** The address actually listened on (useful with port 0). */
  url: string;
  /** Stops accepting, lets in-flight batches finish (each is one transaction), closes the pool. */
  close(): Promise<void>;
}

/** Loads keys, migrates the state schema, listens. Everything that can fail fails here, at start. */
export async function startReceiver(config: ReceiverConfig, logger: Logger = createLogger({ name: 'backuptools-receiver', level: config.logLevel })): Promise<RunningReceiver> {
  const keys = await loadReceiverKeys(config.privateKeyPaths, config.trustedSenderKeyPaths);
  const { db, pool } = createBackupDb(config.databaseUrl, config.databasePoolSize, logger);
  try {
    await migrateState(db, config.stateSchema);
  } catch (error) {
    await db.destroy();
    throw new Error(`cannot prepare the backup database (state schema ${config.stateSchema}): ${(error as Error).message}`, { cause: error });
  }
  if (config.acceptSeedV1) {
    logger.warn('accept-seed-v1 is on: unsigned seed-format messages are accepted. Anyone holding the public key can write to the backup. Turn it off once every sender signs.');
  }
  const https = config.tls ? { cert: await readFile(config.tls.certPath), key: await readFile(config.tls.keyPath) } : undefined;
  const app = buildApp({
    db,
    pool,
    logger,
    ...keys,
    allowedTables: config.tables,
    schemaMapping: config.schemaMapping,
    autoCreateTables: config.autoCreateTables,
    stateSchema: config.stateSchema,
    defaultSchema: config.defaultSchema,
    bodyLimitBytes: config.bodyLimitBytes,
    receiveBudgetBytes: config.receiveBudgetBytes,
    timeouts: config.timeouts,
    timestampToleranceSeconds: config.timestampToleranceSeconds,
    acceptUnsignedSeedV1: config.acceptSeedV1,
    synchronousCommit: config.synchronousCommit,
    ...(https ? { https } : {}),
  });
  const url = await app.listen({ host: config.listenHost, port: config.listenPort });
  logger.info({ url, keys: keys.decryptionKeys.map((key) => key.kid), trustedSenders: keys.trustedKeys.map((key) => key.kid), tables: config.tables }, 'receiver listening');
  let closing: Promise<void> | undefined;
  return {
    app,
    url,
    close: () => {
      closing ??= (async () => {
        await app.close();
        await db.destroy();
        logger.debug({ totalCount: pool.totalCount }, 'backup database pool closed');
      })();
      return closing;
    },
  };
}
