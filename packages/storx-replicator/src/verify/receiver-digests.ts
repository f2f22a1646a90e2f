import { type KeyRange, type LoadedKey, openVerifyResult, sealVerifyRequest, signWebhook, type DigestTable, type VerifyResult } from '@storx-backup/protocol';
import { WebhookClient } from '../deliver/webhook-client.js';
import { sleep } from '../deliver/sleep.js';
import { ReplicatorError } from '../errors.js';

export interface ReceiverDigestsOptions {
  /** The receiver's verify URL: `verify` beside the webhook path (…/webhook → …/verify). */
  url: URL;
  sourceId: string;
  slot: string;
  recipient: LoadedKey;
  signingKey: LoadedKey;
  timeoutMs: number;
  ca?: Buffer | undefined;
}

/** Busy (one verify at a time) or unavailable answers are retried this many times, a second apart. */
const BUSY_RETRIES = 30;

/** The verify URL for a webhook URL: the sibling path `verify` (`http://b:8005/webhook` → `http://b:8005/verify`). */
export function verifyUrlOf(webhookUrl: URL): URL {
  return new URL('verify', webhookUrl);
}

/**
 * Asks the receiver for the digests of key ranges of one backup table, through POST /verify:
 * each request sealed to the receiver's key and signed like a batch, with a fresh id; the answer
 * opened with the request's own response key (docs/protocol.md, "Verify").
 */
export class ReceiverDigests {
  private readonly client: WebhookClient;

  constructor(private readonly options: ReceiverDigestsOptions) {
    this.client = new WebhookClient(options.url, { timeoutMs: options.timeoutMs, ...(options.ca ? { ca: options.ca } : {}) });
  }

  async digests(table: DigestTable, ranges: readonly KeyRange[], maxRowsPerRange: number): Promise<VerifyResult> {
    const request = { source_id: this.options.sourceId, slot: this.options.slot, schema: table.schema, table: table.table, columns: [...table.columns], key: [...table.key], ranges: ranges.map((range) => ({ from: range.from === null ? null : [...range.from], to: range.to === null ? null : [...range.to] })), max_rows_per_range: maxRowsPerRange };
    for (let attempt = 0; ; attempt++) {
      // A fresh id and response key per attempt: the receiver refuses an id it has seen.
      const sealed = await sealVerifyRequest(request, this.options.recipient);
      const headers = { 'content-type': sealed.contentType, ...signWebhook({ id: sealed.id, timestamp: Math.floor(Date.now() / 1000), body: sealed.body, signingKeys: [this.options.signingKey.key] }) };
      let response;
      try {
        response = await this.client.post(headers, sealed.body);
      } catch (error) {
        if (attempt < 3) {
          await sleep(1000);
          continue;
        }
        throw new ReplicatorError('VERIFY_NOT_POSSIBLE', `the receiver at ${this.options.url.href} did not answer: ${(error as Error).message}`, { fix: ['check that backuptools-receiver serve runs and that replication.webhook-url reaches it ("storx-replicator status" pings it)'] });
      }
      if (response.status === 200) return openVerifyResult(parseJson(response.body), sealed.responseKey, sealed.id);
      if ((response.status === 503 || response.status === 429) && attempt < BUSY_RETRIES) {
        await sleep(1000);
        continue;
      }
      throw refusal(response.status, response.body, this.options.url);
    }
  }

  close(): void {
    this.client.close();
  }
}

function refusal(status: number, body: string, url: URL): ReplicatorError {
  const answer = parseJson(body) as { error?: unknown; message?: unknown; fix?: unknown } | undefined;
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value.slice(0, 500) : undefined);
  if (status === 404) return new ReplicatorError('VERIFY_NOT_POSSIBLE', `the receiver has no ${url.pathname} (HTTP 404)`, { fix: ['upgrade backuptools-receiver to a version with POST /verify, and check that replication.webhook-url ends in the receiver\'s /webhook path'] });
  if (status === 401) return new ReplicatorError('VERIFY_NOT_POSSIBLE', 'the receiver refused the verify request (HTTP 401: signature, keys or clock)', { fix: ['"storx-replicator status" checks the keys and the clock against the receiver'] });
  const code = text(answer?.error) ?? `HTTP ${status}`;
  const fix = text(answer?.fix);
  return new ReplicatorError('VERIFY_NOT_POSSIBLE', `the receiver refused the verify request: ${code}: ${text(answer?.message) ?? body.slice(0, 200)}`, fix === undefined ? {} : { fix: [fix] });
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
