import { homedir } from 'node:os';
import { join } from 'node:path';
import { FORMAT_SETTINGS, type FormatSetting } from '@storx-backup/protocol';
import { ConfigError, LOG_LEVELS, loadLayeredConfig, type OptionSpec } from '@storx-backup/service-kit';
import { expandSourceUrls } from './source/source-hosts.js';

/** Environment variables of the replicator start with this (`STORX_REPLICATION_WEBHOOK_URL`). */
export const ENV_PREFIX = 'STORX_';

/** The seed document's config location. */
export const DEFAULT_CONFIG_PATH = join(homedir(), '.local', 'share', 'storj', 'local-network', 'replication', 'config.yaml');

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Every replicator option. The seed's options keep the seed's names and defaults; one list
 * drives the YAML file, the environment (STORX_ + path), flags (--path) and --help.
 */
export const REPLICATOR_OPTIONS: readonly OptionSpec[] = [
  { path: 'database', kind: { type: 'string' }, description: 'source PostgreSQL URL; its search_path decides which schema the tables are in. Several hosts (postgres://u:p@primary:5432,standby:5432/db) name a primary and its standbys: the replicator streams from the one not in recovery and follows a promotion', required: true, secret: true },
  { path: 'replication.webhook-url', kind: { type: 'string' }, description: "the receiver's endpoint, e.g. https://backup-host:8005/webhook", required: true },
  { path: 'replication.webhook-public-key', kind: { type: 'string' }, description: "the receiver's RSA public key file (PEM) batches are encrypted to", required: true },
  { path: 'replication.signing-key', kind: { type: 'string' }, description: 'this sender\'s Ed25519 private key file (PEM) every request is signed with ("keys generate")', required: true },
  { path: 'replication.slot-name', kind: { type: 'string' }, description: 'logical replication slot', default: 'backuptools_slot' },
  { path: 'replication.publication-name', kind: { type: 'string' }, description: 'publication of the replicated tables', default: 'backuptools_pub' },
  { path: 'replication.tables', kind: { type: 'list' }, description: "tables to replicate, resolved on the connection's search_path", default: ['objects', 'segments'] },
  { path: 'replication.source-id', kind: { type: 'string' }, description: 'names this source at the receiver (default: the database name)' },
  { path: 'replication.format', kind: { type: 'enum', values: FORMAT_SETTINGS }, description: 'wire format: auto (v3 when the receiver\'s ping answer names it, else v2), v3 (binary frames), v2 (JWE text) or seed-v1 (the seed document\'s envelope, one event per request)', default: 'auto' },
  { path: 'replication.initial-snapshot', kind: { type: 'boolean' }, description: 'while the receiver holds nothing from the slot (its first run, or one that stopped before the copy finished), copy the existing rows of the tables before streaming; off: only changes from the slot on', default: true },
  { path: 'replication.max-retries', kind: { type: 'integer', min: 0 }, description: 'consecutive failed deliveries before the replicator reports itself unhealthy and alerts (it keeps retrying: nothing is ever skipped)', default: 3 },
  { path: 'replication.retry-delay', kind: { type: 'duration', min: 1 }, description: 'first retry delay; doubles per attempt, with jitter', default: 5_000 },
  { path: 'replication.max-retry-delay', kind: { type: 'duration', min: 1 }, description: 'longest retry delay', default: 300_000 },
  { path: 'replication.blocked-retry-interval', kind: { type: 'duration', min: 100 }, description: 'while the receiver refuses a batch (replication blocked): how often a signed ping asks it again, and the batch is sent again once the ping passes, so a fix is picked up within seconds', default: 5_000 },
  { path: 'replication.webhook-timeout', kind: { type: 'duration', min: 1 }, description: 'HTTP request timeout', default: 30_000 },
  { path: 'replication.webhook-ca', kind: { type: 'string' }, description: 'CA certificate file (PEM) to trust for an https:// receiver with a private CA' },
  // The defaults of these two and of max-in-flight were measured together (docs/benchmark.md,
  // "Batch size and batches in flight"): 2 MiB batches, two on the wire, beat 1 MiB and four.
  { path: 'replication.max-batch-events', kind: { type: 'integer', min: 1 }, description: 'most events in one batch', default: 10_000 },
  { path: 'replication.max-batch-bytes', kind: { type: 'size', min: 1024 }, description: 'largest batch payload; a bigger transaction is sent as ordered chunks', default: 2 * 1024 * 1024 },
  // At most 8 MiB: a chunk of 1-byte rows then stays under the receiver's MAX_COPY_ROWS (10,000,000).
  { path: 'replication.copy-chunk-bytes', kind: { type: 'size', min: 1024, max: 8 * 1024 * 1024 }, description: 'largest chunk of a table copy sent as COPY text (one request and one backup transaction each: bigger chunks, fewer commits), at most 8MiB; a receiver that takes no COPY text gets chunks of max-batch-bytes', default: 4 * 1024 * 1024 },
  { path: 'replication.max-in-flight', kind: { type: 'integer', min: 1 }, description: "batches (and chunks of a table copy) on the wire at once, toward a receiver whose ping answer says it takes `follows` (`copy_follows` for copies; it applies them in order, holding an early one until the one before it commits); 1 sends one at a time, as toward an older receiver", default: 2 },
  { path: 'replication.max-in-flight-bytes', kind: { type: 'size', min: 1024 }, description: 'payload bytes of the batches (or copy chunks) on the wire at once (the first always goes)', default: 16 * 1024 * 1024 },
  { path: 'replication.batch-linger', kind: { type: 'duration' }, description: 'longest a batch waits for more transactions while the delivery window is full (max-in-flight batches on the wire, 1 toward a receiver that does not take follows): it goes as soon as one is answered (with room in the window it is sent at once)', default: 1_000 },
  { path: 'replication.heartbeat-interval', kind: { type: 'duration' }, description: 'write a logical message this often so a quiet database still advances the slot (0: off)', default: 0 },
  { path: 'replication.status-interval', kind: { type: 'duration', min: 100 }, description: 'how often the slot position is reported to the server when nothing else happens', default: 10_000 },
  { path: 'replication.metrics-listen', kind: { type: 'string' }, description: 'host:port for Prometheus /metrics and /healthz (empty: off)', default: '' },
  { path: 'shutdown-timeout', kind: { type: 'duration' }, description: 'longest wait for the batch in flight at shutdown', default: 10_000 },
  { path: 'log-level', kind: { type: 'enum', values: LOG_LEVELS }, description: 'log level', default: 'info' },
];

export interface ReplicatorConfig {
  /** The source URL (the first host of a multi-host `database`; see `sourceUrls`). */
  databaseUrl: string;
  /** One URL per host of `database`: a primary and its standbys, in the order given. */
  sourceUrls: readonly string[];
  webhookUrl: URL;
  webhookPublicKeyPath: string;
  signingKeyPath: string;
  slotName: string;
  publicationName: string;
  tables: readonly string[];
  sourceId: string;
  format: FormatSetting;
  initialSnapshot: boolean;
  maxRetries: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  blockedRetryIntervalMs: number;
  webhookTimeoutMs: number;
  webhookCaPath: string | undefined;
  maxBatchEvents: number;
  maxBatchBytes: number;
  copyChunkBytes: number;
  maxInFlight: number;
  maxInFlightBytes: number;
  batchLingerMs: number;
  heartbeatIntervalMs: number;
  statusIntervalMs: number;
  metricsListen: { host: string; port: number } | undefined;
  shutdownTimeoutMs: number;
  logLevel: (typeof LOG_LEVELS)[number];
  /** The config file actually read, if any. */
  configFile: string | undefined;
}

export interface ConfigInput {
  env: NodeJS.ProcessEnv;
  flags: ReadonlyMap<string, string>;
  /** --config; else STORX_CONFIG; else the seed's default path, if that file exists. `false`: no file at all. */
  configFile: string | undefined | false;
}

/** Options only `run` needs (status and doctor can check a half-configured host). */
const RUN_ONLY = new Set(['replication.webhook-url', 'replication.webhook-public-key', 'replication.signing-key']);

/** Resolves, validates and freezes the configuration; throws ConfigError listing every problem. */
export function loadReplicatorConfig(input: ConfigInput, purpose: 'run' | 'inspect' = 'run'): ReplicatorConfig {
  const fromEnv = input.env[`${ENV_PREFIX}CONFIG`] || undefined; // empty: not set
  const explicit = input.configFile === false ? undefined : (input.configFile ?? fromEnv);
  const file = explicit ?? DEFAULT_CONFIG_PATH;
  const specs = purpose === 'run' ? REPLICATOR_OPTIONS : REPLICATOR_OPTIONS.map((spec) => (RUN_ONLY.has(spec.path) ? { ...spec, required: false } : spec));
  const { values, sources } = loadLayeredConfig({
    specs,
    envPrefix: ENV_PREFIX,
    env: input.env,
    flags: input.flags,
    file: input.configFile === false ? undefined : { path: file, required: explicit !== undefined },
  });
  const get = <T>(path: string): T => values.get(path) as T;
  const problems: string[] = [];

  for (const path of ['replication.slot-name', 'replication.publication-name']) {
    if (!NAME.test(get<string>(path))) problems.push(`${path}: ${JSON.stringify(get<string>(path))} must be 1-63 characters of a-z, 0-9 and _, not starting with a digit`);
  }
  let webhookUrl: URL | undefined;
  const webhookText = get<string | undefined>('replication.webhook-url');
  if (webhookText !== undefined) {
    try {
      webhookUrl = new URL(webhookText);
      if (webhookUrl.protocol !== 'http:' && webhookUrl.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      problems.push(`replication.webhook-url: ${JSON.stringify(webhookText)} is not an http:// or https:// URL`);
    }
  }
  const sourceUrls = expandSourceUrls(get<string>('database'));
  // Every host of a multi-host URL must be a postgres:// URL; they share one database name.
  const databaseNames = sourceUrls.map(databaseNameOf);
  const databaseName = databaseNames.includes(undefined) ? undefined : databaseNames[0];
  // The value is a secret (a password): never echoed, only what is wrong with it.
  if (databaseName === undefined) problems.push('database: not a postgres:// URL (expected postgres://user:password@host:5432/database, with ?options=--search_path%3D... for the schema)');
  const sourceId = get<string | undefined>('replication.source-id') ?? (databaseName || 'source');
  // A source-id derived from a database URL that is not one says nothing new: only its own problem is listed.
  const explicitSourceId = get<string | undefined>('replication.source-id') !== undefined;
  if ((databaseName !== undefined || explicitSourceId) && !/^[A-Za-z0-9_.:-]{1,128}$/.test(sourceId)) problems.push(`replication.source-id: ${JSON.stringify(sourceId)} must be 1-128 characters of A-Z a-z 0-9 _ . : - (set it explicitly)`);
  const metricsListen = parseListen(get<string>('replication.metrics-listen'), problems);
  if (get<number>('replication.max-retry-delay') < get<number>('replication.retry-delay')) problems.push('replication.max-retry-delay must not be shorter than replication.retry-delay');
  if (problems.length > 0) throw new ConfigError(problems);

  return Object.freeze({
    databaseUrl: sourceUrls[0]!,
    sourceUrls: Object.freeze(sourceUrls),
    webhookUrl: webhookUrl ?? new URL('http://unset.invalid/'),
    webhookPublicKeyPath: get<string | undefined>('replication.webhook-public-key') ?? '',
    signingKeyPath: get<string | undefined>('replication.signing-key') ?? '',
    slotName: get<string>('replication.slot-name'),
    publicationName: get<string>('replication.publication-name'),
    tables: Object.freeze(get<string[]>('replication.tables')),
    sourceId,
    format: get<FormatSetting>('replication.format'),
    initialSnapshot: get<boolean>('replication.initial-snapshot'),
    maxRetries: get<number>('replication.max-retries'),
    retryDelayMs: get<number>('replication.retry-delay'),
    maxRetryDelayMs: get<number>('replication.max-retry-delay'),
    blockedRetryIntervalMs: get<number>('replication.blocked-retry-interval'),
    webhookTimeoutMs: get<number>('replication.webhook-timeout'),
    webhookCaPath: get<string | undefined>('replication.webhook-ca'),
    maxBatchEvents: get<number>('replication.max-batch-events'),
    maxBatchBytes: get<number>('replication.max-batch-bytes'),
    copyChunkBytes: get<number>('replication.copy-chunk-bytes'),
    maxInFlight: get<number>('replication.max-in-flight'),
    maxInFlightBytes: get<number>('replication.max-in-flight-bytes'),
    batchLingerMs: get<number>('replication.batch-linger'),
    heartbeatIntervalMs: get<number>('replication.heartbeat-interval'),
    statusIntervalMs: get<number>('replication.status-interval'),
    metricsListen,
    shutdownTimeoutMs: get<number>('shutdown-timeout'),
    logLevel: get<ReplicatorConfig['logLevel']>('log-level'),
    configFile: [...sources.values()].some((source) => source.kind === 'file') ? file : undefined,
  });
}

/** The database name of a postgres:// (or postgresql://) URL; undefined when the text is not one ("localhost:5432/storx" parses as a URL of scheme "localhost:"). */
function databaseNameOf(text: string): string | undefined {
  try {
    const url = new URL(text);
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return undefined;
    return decodeURIComponent(url.pathname.slice(1));
  } catch {
    return undefined;
  }
}

function parseListen(text: string, problems: string[]): { host: string; port: number } | undefined {
  if (text === '') return undefined;
  const match = /^(.*):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535) {
    problems.push(`replication.metrics-listen: ${JSON.stringify(text)} is not host:port (e.g. 127.0.0.1:9187)`);
    return undefined;
  }
  return { host: match[1] === '' ? '0.0.0.0' : match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}
