import { readReceiverCapabilities, type Relation, type SignatureScheme, type WireFormat } from '@storx-backup/protocol';
import { createLogger } from '@storx-backup/service-kit';
import type { ReplicatorConfig } from '../config.js';
import { deliveryFromConfig } from '../deliver/delivery-from-config.js';
import { ReplicatorMetrics } from '../metrics.js';
import type { ReplicatorKeys } from '../replicator-keys.js';

/** Status and doctor wait at most this long for the receiver, whatever webhook-timeout says. */
export const PING_TIMEOUT_MS = 10_000;

/**
 * What the receiver made of a signed, encrypted empty batch:
 * - accepted: 200 with `{"status":"ping"}`: URL, both keys, signature and clock are right;
 * - rejected: a permanent 4xx (401: signature or encryption key; 404: wrong path...);
 *   replication would be blocked;
 * - unavailable: 5xx, 429, 408, 425: the receiver answers but cannot take batches now;
 * - unreachable: no HTTP answer at all (refused, DNS, TLS, timeout);
 * - unexpected: 2xx but not a receiver's ping reply (something else listens at that URL).
 */
export type PingOutcome =
  | { kind: 'accepted'; httpStatus: number; watermarkLsn: string | null; refusal: ReceiverRefusal | null; wire: WireChoice; tableChecks: ReceiverTableCheck[] | null }
  | { kind: 'rejected'; httpStatus: number; reason: string }
  | { kind: 'unavailable'; httpStatus: number; reason: string }
  | { kind: 'unreachable'; reason: string }
  | { kind: 'unexpected'; httpStatus: number; reason: string };

/** What batches would go as after this ping: the format and signature scheme, and the formats the receiver named. */
export interface WireChoice {
  format: WireFormat;
  signature: SignatureScheme;
  receiverFormats: readonly string[];
}

/**
 * Pings the receiver exactly as `run` does before it creates a slot (the same delivery code).
 * With `relations` (doctor), the ping also asks whether the receiver could apply each table:
 * the answer is `tableChecks`, null from a receiver that predates the question.
 */
export async function pingReceiver(config: ReplicatorConfig, keys: ReplicatorKeys, timeoutMs: number = PING_TIMEOUT_MS, relations: readonly Relation[] = []): Promise<PingOutcome> {
  const { delivery, client } = deliveryFromConfig(config, keys, {
    // A ping carries no relation; nothing is ever resolved (and nothing touches the source).
    catalog: { query: () => Promise.reject(new Error('a ping carries no relation')) },
    metrics: new ReplicatorMetrics(),
    logger: createLogger({ name: 'storx-replicator', level: 'silent' }),
    timeoutMs: Math.min(config.webhookTimeoutMs, timeoutMs),
  });
  try {
    const { response, verdict } = await delivery.ping(undefined, relations);
    switch (verdict.kind) {
      case 'delivered': {
        const reply = parseReply(response.body);
        if (reply?.status !== 'ping') return { kind: 'unexpected', httpStatus: response.status, reason: `HTTP ${response.status} without a ping reply: ${response.body.slice(0, 200) || '(empty body)'}` };
        const wire = { format: delivery.wireFormat, signature: delivery.signatureScheme, receiverFormats: readReceiverCapabilities(reply).formats };
        return { kind: 'accepted', httpStatus: response.status, watermarkLsn: reply.watermark?.commit_lsn ?? null, refusal: readRefusal(reply.refusal), wire, tableChecks: readTableChecks(reply.table_checks) };
      }
      case 'permanent':
        return { kind: 'rejected', httpStatus: response.status, reason: verdict.reason };
      case 'transient':
        return { kind: 'unavailable', httpStatus: response.status, reason: verdict.reason };
    }
  } catch (error) {
    return { kind: 'unreachable', reason: (error as Error).message };
  } finally {
    client.close();
  }
}

/** The receiver's ping reply, `{"status":"ping","watermark":{"commit_lsn":...}|null,"refusal":{...}|null}` (docs/protocol.md). */
interface PingReply {
  status?: unknown;
  watermark?: { commit_lsn?: string | null } | null;
  refusal?: unknown;
  table_checks?: unknown;
}

/** The batch the receiver last refused from this source and slot, while that refusal is in force. */
export interface ReceiverRefusal {
  code: string;
  http_status: number | null;
  message: string;
  fix: string;
  since: string;
  commit_lsn: string | null;
  attempts: number | null;
}

/** Reads the ping reply's `refusal` (absent from receivers older than it: null). */
function readRefusal(value: unknown): ReceiverRefusal | null {
  if (typeof value !== 'object' || value === null) return null;
  const field = (name: string): unknown => (Object.hasOwn(value, name) ? (value as Record<string, unknown>)[name] : undefined);
  const text = (name: string): string | null => (typeof field(name) === 'string' ? (field(name) as string).slice(0, 2000) : null);
  const number = (name: string): number | null => (typeof field(name) === 'number' ? (field(name) as number) : null);
  const code = text('code');
  if (code === null) return null;
  return { code, http_status: number('http_status'), message: text('message') ?? '', fix: text('fix') ?? `see ${code} in docs/errors.md`, since: text('since') ?? '', commit_lsn: text('commit_lsn'), attempts: number('attempts') };
}

/** The receiver's verdict on one table of a checking ping (docs/protocol.md, "table_checks"). */
export interface ReceiverTableCheck {
  schema: string;
  table: string;
  ok: boolean;
  problems: { code: string; message: string; fix: string; missingType: string | null }[];
}

/** Reads the ping reply's `table_checks` (absent from receivers older than it: null). */
function readTableChecks(value: unknown): ReceiverTableCheck[] | null {
  if (!Array.isArray(value)) return null;
  const checks: ReceiverTableCheck[] = [];
  for (const entry of value) {
    const schema = textField(entry, 'schema');
    const table = textField(entry, 'table');
    if (schema === null || table === null) continue;
    const listed: unknown = objectField(entry, 'problems');
    const problems = (Array.isArray(listed) ? listed : []).map((problem: unknown) => {
      const code = textField(problem, 'code') ?? 'UNKNOWN';
      return { code, message: textField(problem, 'message') ?? '', fix: textField(problem, 'fix') ?? `see ${code} in docs/errors.md`, missingType: textField(problem, 'missing_type') };
    });
    checks.push({ schema, table, ok: objectField(entry, 'ok') === true && problems.length === 0, problems });
  }
  return checks;
}

function objectField(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, name) ? (value as Record<string, unknown>)[name] : undefined;
}

function textField(value: unknown, name: string): string | null {
  const field = objectField(value, name);
  return typeof field === 'string' ? field.slice(0, 2000) : null;
}

function parseReply(body: string): PingReply | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** The fix for a 401: what the receiver checks before it accepts anything from us. */
export function signatureRejectedFix(config: ReplicatorConfig, keys: ReplicatorKeys): string[] {
  return [
    `the receiver must trust this sender: list the public half of replication.signing-key (${config.signingKeyPath}, kid ${keys.signing.kid}) in its trusted-sender-keys`,
    `replication.webhook-public-key (${config.webhookPublicKeyPath}, kid ${keys.recipient.kid}) must be the public key of one of the receiver's private-keys`,
    "this host's clock must be within the receiver's timestamp tolerance (5 minutes by default)",
  ];
}
