import { describe, expect, it } from 'vitest';
import { ConfigError } from '@storx-backup/service-kit';
import { loadReplicatorConfig } from '../src/config.js';

const required = {
  database: 'postgres://user:pw@localhost:5432/storx?sslmode=disable',
  'replication.webhook-url': 'http://localhost:8005/webhook',
  'replication.webhook-public-key': '/keys/backuptools_public.pem',
  'replication.signing-key': '/keys/storx_signing_private.pem',
};

function load(flags: Record<string, string>, env: NodeJS.ProcessEnv = {}) {
  return loadReplicatorConfig({ env, flags: new Map(Object.entries(flags)), configFile: false });
}

function problems(flags: Record<string, string>): readonly string[] {
  try {
    load(flags);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('accepted');
}

describe('replicator configuration', () => {
  it("keeps the seed's defaults", () => {
    const config = load(required);
    expect(config).toMatchObject({
      slotName: 'backuptools_slot',
      publicationName: 'backuptools_pub',
      tables: ['objects', 'segments'],
      maxRetries: 3,
      retryDelayMs: 5000,
      webhookTimeoutMs: 30_000,
      format: 'auto',
      sourceId: 'storx',
      metricsListen: undefined,
    });
  });

  it('requires the webhook URL, the public key and the signing key for run', () => {
    expect(problems({ database: required.database })).toEqual([
      'replication.webhook-url is required: set it in the config file, as STORX_REPLICATION_WEBHOOK_URL, or with --replication.webhook-url',
      'replication.webhook-public-key is required: set it in the config file, as STORX_REPLICATION_WEBHOOK_PUBLIC_KEY, or with --replication.webhook-public-key',
      'replication.signing-key is required: set it in the config file, as STORX_REPLICATION_SIGNING_KEY, or with --replication.signing-key',
    ]);
  });

  it('copy-chunk-bytes: 4 MiB by default, at most 8 MiB', () => {
    // A bigger chunk of 1-byte rows could declare more rows than the receiver takes (MAX_COPY_ROWS).
    expect(problems({ ...required, 'replication.copy-chunk-bytes': '9MiB' })[0]).toMatch(/^replication\.copy-chunk-bytes .*must be at most 8388608 bytes/);
    expect(load({ ...required, 'replication.copy-chunk-bytes': '8MiB' }).copyChunkBytes).toBe(8 * 1024 * 1024);
    expect(load(required).copyChunkBytes).toBe(4 * 1024 * 1024);
  });

  it('refuses names that could not be a slot or publication, naming the key', () => {
    expect(problems({ ...required, 'replication.slot-name': 'Backup-Slot' })[0]).toMatch(/^replication\.slot-name: "Backup-Slot" must be 1-63 characters of a-z, 0-9 and _/);
    expect(problems({ ...required, 'replication.publication-name': 'x;drop' })[0]).toMatch(/^replication\.publication-name:/);
  });

  it('refuses a webhook URL that is not http(s), and a bad metrics address', () => {
    expect(problems({ ...required, 'replication.webhook-url': 'ftp://x/webhook' })).toEqual(['replication.webhook-url: "ftp://x/webhook" is not an http:// or https:// URL']);
    expect(problems({ ...required, 'replication.metrics-listen': 'nope' })).toEqual(['replication.metrics-listen: "nope" is not host:port (e.g. 127.0.0.1:9187)']);
    expect(load({ ...required, 'replication.metrics-listen': ':9187' }).metricsListen).toEqual({ host: '0.0.0.0', port: 9187 });
  });

  it('refuses a longest retry delay shorter than the first', () => {
    expect(problems({ ...required, 'replication.retry-delay': '10s', 'replication.max-retry-delay': '1s' })).toEqual(['replication.max-retry-delay must not be shorter than replication.retry-delay']);
  });

  it('takes the environment, and flags over it', () => {
    const config = load(required, { STORX_REPLICATION_MAX_RETRIES: '9', STORX_REPLICATION_FORMAT: 'seed-v1' });
    expect(config.maxRetries).toBe(9);
    expect(config.format).toBe('seed-v1');
    expect(load({ ...required, 'replication.max-retries': '1' }, { STORX_REPLICATION_MAX_RETRIES: '9' }).maxRetries).toBe(1);
  });

  it('names the source after its database unless told otherwise', () => {
    expect(load({ ...required, database: 'postgres://u@h/satellite_db' }).sourceId).toBe('satellite_db');
    expect(load({ ...required, 'replication.source-id': 'storx-eu-1' }).sourceId).toBe('storx-eu-1');
    expect(problems({ ...required, 'replication.source-id': 'with space' })[0]).toContain('replication.source-id');
  });

  it('refuses a database URL without postgres:// as a URL (not as a bad source-id), never echoing it', () => {
    for (const database of ['localhost:5432/storx', '127.0.0.1:5432/storx', 'host=db user=storx password=secret', 'http://db/storx']) {
      const listed = problems({ ...required, database });
      expect(listed, database).toEqual(['database: not a postgres:// URL (expected postgres://user:password@host:5432/database, with ?options=--search_path%3D... for the schema)']);
    }
    expect(load({ ...required, database: 'postgresql://u@h/db' }).sourceId).toBe('db');
  });
});
