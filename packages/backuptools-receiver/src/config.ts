import { ConfigError, LOG_LEVELS, loadLayeredConfig, type OptionSpec } from '@storx-backup/service-kit';
import type { HttpTimeouts } from './http/http-timeouts.js';
import { refusedName } from './schema/refused-names.js';
import type { AllowedTable } from './verify/table-allowlist.js';

/** Environment variables of the receiver start with this. */
export const ENV_PREFIX = 'BACKUPTOOLS_';

/** Every receiver option: one list drives the YAML file, the environment, flags and --help. */
export const RECEIVER_OPTIONS: readonly OptionSpec[] = [
  { path: 'database-url', kind: { type: 'string' }, description: 'backup PostgreSQL URL (postgres://user:password@host:5432/db)', required: true, secret: true },
  { path: 'listen-host', kind: { type: 'string' }, description: 'address to listen on', default: '0.0.0.0' },
  { path: 'listen-port', kind: { type: 'integer', min: 0, max: 65535 }, description: 'port to listen on (the seed uses 8005)', default: 8005 },
  { path: 'private-keys', kind: { type: 'list' }, description: 'RSA private key files (PEM); several during a key rotation, chosen by kid', required: true },
  { path: 'trusted-sender-keys', kind: { type: 'list' }, description: "senders' Ed25519 public key files (PEM); a request must be signed by one of them", required: true },
  { path: 'tables', kind: { type: 'list' }, description: 'the only source tables a sender may write, as "schema.table" or "table" (in default-schema); names match exactly', default: ['objects', 'segments'] },
  { path: 'default-schema', kind: { type: 'string' }, description: 'source schema of a bare "table" in tables and of a seed-format event without "schema" (StorXMonitor: satellite/0)', default: 'satellite/0' },
  { path: 'schema-mapping', kind: { type: 'list' }, description: 'source schema to backup schema, as "source=target" (default: the same name)', default: [] },
  { path: 'auto-create-tables', kind: { type: 'boolean' }, description: 'create missing tables and add new columns from the source metadata', default: true },
  { path: 'body-limit', kind: { type: 'size', min: 1024 }, description: "largest request body accepted (413 above); at least 4/3 × (the sender's replication.max-batch-bytes, or copy-chunk-bytes for a table copy, + its largest row) + 2 KiB", default: 64 * 1024 * 1024 },
  { path: 'receive-budget', kind: { type: 'size', min: 1024 }, description: 'request bytes that uploads not yet authenticated may hold at once, counted as they arrive (one peer at most half; 503 above); at least body-limit', default: 128 * 1024 * 1024 },
  { path: 'request-timeout', kind: { type: 'duration', min: 1000 }, description: 'a request (headers and body) must arrive within this; slower uploads get 408 and are closed', default: 120_000 },
  { path: 'idle-timeout', kind: { type: 'duration', min: 1000 }, description: "a connection silent this long is closed; keep it above the longest batch apply", default: 300_000 },
  { path: 'keep-alive-timeout', kind: { type: 'duration', min: 1000 }, description: 'an idle keep-alive connection between requests is closed after this', default: 72_000 },
  { path: 'timestamp-tolerance', kind: { type: 'duration', min: 1000 }, description: 'largest clock difference accepted in webhook-timestamp', default: 300_000 },
  { path: 'tls-cert', kind: { type: 'string' }, description: 'TLS certificate file (PEM); serve HTTPS when given with tls-key' },
  { path: 'tls-key', kind: { type: 'string' }, description: 'TLS private key file (PEM)' },
  { path: 'accept-seed-v1', kind: { type: 'boolean' }, description: 'INSECURE: also accept unsigned seed-format messages (from senders written from the seed document)', default: false },
  { path: 'state-schema', kind: { type: 'string' }, description: "schema of the receiver's own state (watermarks)", default: 'backuptools_state' },
  { path: 'synchronous-commit', kind: { type: 'boolean' }, description: "on: commit each batch with synchronous_commit on (an fsync per batch); off: commit asynchronously the batches of a replicator that acknowledges its slot only as far as the answers say is on disk (an older replicator's batches commit synchronously) (keep on when the backup's own failover relies on synchronous replication)", default: false },
  { path: 'database-pool-size', kind: { type: 'integer', min: 1, max: 1000 }, description: 'connections to the backup database (an idle one is kept 5 minutes, so one that writes rarely pays no new connection per batch)', default: 10 },
  { path: 'shutdown-timeout', kind: { type: 'duration' }, description: 'longest wait for in-flight requests at shutdown', default: 30_000 },
  { path: 'log-level', kind: { type: 'enum', values: LOG_LEVELS }, description: 'log level', default: 'info' },
];

/** What migrate and status read (loadReceiverConfig's 'database' purpose): the rest is serve's. */
export const DATABASE_OPTIONS: readonly OptionSpec[] = RECEIVER_OPTIONS.filter((spec) => spec.path === 'database-url' || spec.path === 'state-schema');

export interface ReceiverConfig {
  databaseUrl: string;
  listenHost: string;
  listenPort: number;
  privateKeyPaths: readonly string[];
  trustedSenderKeyPaths: readonly string[];
  tables: readonly AllowedTable[];
  /** Source schema of a bare table name in `tables` and of a seed-format event that names no schema. */
  defaultSchema: string;
  /** Source schema → backup schema; unmapped schemas keep their name. */
  schemaMapping: ReadonlyMap<string, string>;
  autoCreateTables: boolean;
  bodyLimitBytes: number;
  receiveBudgetBytes: number;
  timeouts: HttpTimeouts;
  timestampToleranceSeconds: number;
  tls: { certPath: string; keyPath: string } | undefined;
  acceptSeedV1: boolean;
  stateSchema: string;
  /** Commit stream batches with `synchronous_commit` on (else off, with the durable position answered apart). */
  synchronousCommit: boolean;
  databasePoolSize: number;
  shutdownTimeoutMs: number;
  logLevel: (typeof LOG_LEVELS)[number];
}

export interface ConfigInput {
  env: NodeJS.ProcessEnv;
  flags: ReadonlyMap<string, string>;
  configFile: string | undefined;
}

/** Options `serve` needs but `migrate` and `status` (which only talk to the database) do not. */
const SERVE_ONLY = new Set(['private-keys', 'trusted-sender-keys']);

/**
 * Resolves, validates and freezes the configuration; throws ConfigError listing every problem.
 * `purpose: 'database'` (migrate, status) does not require the key options.
 */
export function loadReceiverConfig(input: ConfigInput, purpose: 'serve' | 'database' = 'serve'): ReceiverConfig {
  const file = input.configFile ?? (input.env[`${ENV_PREFIX}CONFIG`] || undefined); // empty: not set
  const specs = purpose === 'serve' ? RECEIVER_OPTIONS : RECEIVER_OPTIONS.map((spec) => (SERVE_ONLY.has(spec.path) ? { ...spec, required: false, default: [] } : spec));
  const { values } = loadLayeredConfig({
    specs,
    envPrefix: ENV_PREFIX,
    env: input.env,
    flags: input.flags,
    file: file === undefined ? undefined : { path: file, required: true },
  });
  const get = <T>(path: string): T => values.get(path) as T;
  const problems: string[] = [];
  const tlsCert = get<string | undefined>('tls-cert');
  const tlsKey = get<string | undefined>('tls-key');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) problems.push('tls-cert and tls-key go together: give both or neither');
  if (get<number>('receive-budget') < get<number>('body-limit')) problems.push(`receive-budget (${get<number>('receive-budget')} bytes) must be at least body-limit (${get<number>('body-limit')} bytes), or no body of the largest size could ever be received`);
  const schemaMapping = new Map<string, string>();
  for (const entry of get<string[]>('schema-mapping')) {
    const [source, target, ...rest] = entry.split('=');
    if (!source || !target || rest.length > 0) problems.push(`schema-mapping: ${JSON.stringify(entry)} is not "source=target"`);
    else schemaMapping.set(source, target);
  }
  const stateSchema = get<string>('state-schema');
  const tables = get<string[]>('tables').map((entry) => parseAllowedTable(entry, get<string>('default-schema')));
  for (const { schema, table } of tables) {
    const target = schemaMapping.get(schema) ?? schema;
    for (const [what, name] of [['schema', schema], ['table', table], ['backup schema', target]] as const) {
      const why = refusedName(name, what === 'table' ? 'table' : 'schema');
      if (why !== undefined) problems.push(`tables: ${JSON.stringify(`${schema}.${table}`)}: the ${what} name ${JSON.stringify(name)} ${why}`);
    }
    if (target === stateSchema) problems.push(`tables: ${JSON.stringify(`${schema}.${table}`)} would be written into state-schema ${JSON.stringify(stateSchema)}, the receiver's own state; map it elsewhere`);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return Object.freeze({
    databaseUrl: get<string>('database-url'),
    listenHost: get<string>('listen-host'),
    listenPort: get<number>('listen-port'),
    privateKeyPaths: Object.freeze(get<string[]>('private-keys')),
    trustedSenderKeyPaths: Object.freeze(get<string[]>('trusted-sender-keys')),
    tables: Object.freeze(tables),
    defaultSchema: get<string>('default-schema'),
    schemaMapping,
    autoCreateTables: get<boolean>('auto-create-tables'),
    bodyLimitBytes: get<number>('body-limit'),
    receiveBudgetBytes: get<number>('receive-budget'),
    timeouts: Object.freeze({ requestMs: get<number>('request-timeout'), idleMs: get<number>('idle-timeout'), keepAliveMs: get<number>('keep-alive-timeout') }),
    timestampToleranceSeconds: Math.floor(get<number>('timestamp-tolerance') / 1000),
    tls: tlsCert !== undefined && tlsKey !== undefined ? { certPath: tlsCert, keyPath: tlsKey } : undefined,
    acceptSeedV1: get<boolean>('accept-seed-v1'),
    stateSchema,
    synchronousCommit: get<boolean>('synchronous-commit'),
    databasePoolSize: get<number>('database-pool-size'),
    shutdownTimeoutMs: get<number>('shutdown-timeout'),
    logLevel: get<ReceiverConfig['logLevel']>('log-level'),
  });
}

/** `satellite/0.objects` → that schema and table (split at the last dot); a bare `objects` → `defaultSchema`. */
export function parseAllowedTable(entry: string, defaultSchema: string): AllowedTable {
  const dot = entry.lastIndexOf('.');
  return dot <= 0 ? { schema: defaultSchema, table: entry } : { schema: entry.slice(0, dot), table: entry.slice(dot + 1) };
}
