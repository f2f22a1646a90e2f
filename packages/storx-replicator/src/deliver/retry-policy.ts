import type { WebhookResponse } from './webhook-client.js';

/**
 * What to do after an attempt. Decided here and nowhere else:
 * - 2xx: delivered (for v2, only with our receiver's `{"status":"applied"|"duplicate"}`);
 * - network errors, timeouts, 408, 425, 429 and 5xx: transient, retry with backoff (honouring
 *   Retry-After);
 * - any other 4xx (400, 401, 403, 409, 413, 415, 422...): permanent. For a backup, skipping is
 *   silent divergence, so "permanent" means: alert, report unhealthy, and keep retrying the same
 *   batch at the longest delay until someone fixes the cause.
 */
export type Verdict =
  | { kind: 'delivered' }
  | { kind: 'transient'; failureClass: 'network' | 'timeout' | 'http_429' | 'http_5xx' | 'http_4xx_transient'; retryAfterMs: number | undefined; reason: string }
  | {
      kind: 'permanent';
      failureClass: 'http_4xx';
      reason: string;
      /** What refused: the receiver's error code (`TABLE_INCOMPATIBLE`), else `HTTP_<status>`, or `NOT_A_RECEIVER` for a 2xx that is not our receiver's answer. */
      code: string;
      httpStatus: number;
      /** The receiver's own fix for its code, when it sent one. */
      fix: string | undefined;
    };

const TRANSIENT_4XX = new Set([408, 425, 429]);

export function judgeResponse(response: WebhookResponse, now: number = Date.now(), options: { requireAppliedBody?: boolean } = {}): Verdict {
  const { status } = response;
  if (status >= 200 && status < 300) {
    // Our receiver says what it did. A 2xx without that is someone else answering at the URL
    // (a proxy's catch-all, a misrouted service): acknowledging the slot on it would lose data.
    if (options.requireAppliedBody && !saysApplied(response.body)) {
      return { kind: 'permanent', failureClass: 'http_4xx', reason: `HTTP ${status} without {"status":"applied"|"duplicate"}: is another service answering at the webhook URL? (${summarize(response.body)})`, code: 'NOT_A_RECEIVER', httpStatus: status, fix: undefined };
    }
    return { kind: 'delivered' };
  }
  const reason = `HTTP ${status}: ${summarize(response.body)}`;
  const retryAfterMs = parseRetryAfter(response.headers['retry-after'], now);
  if (status === 429) return { kind: 'transient', failureClass: 'http_429', retryAfterMs, reason };
  if (status >= 500 || status < 200) return { kind: 'transient', failureClass: 'http_5xx', retryAfterMs, reason };
  if (TRANSIENT_4XX.has(status)) return { kind: 'transient', failureClass: 'http_4xx_transient', retryAfterMs, reason };
  const answer = errorAnswer(response.body);
  return { kind: 'permanent', failureClass: 'http_4xx', reason, code: answer.code ?? `HTTP_${status}`, httpStatus: status, fix: answer.fix };
}

/** The receiver's `{"error": CODE, "fix": ...}`, when the body is one (a proxy's page is not). */
function errorAnswer(body: string): { code: string | undefined; fix: string | undefined } {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; fix?: unknown };
    const code = typeof parsed.error === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(parsed.error) ? parsed.error : undefined;
    return { code, fix: typeof parsed.fix === 'string' ? parsed.fix.slice(0, 500) : undefined };
  } catch {
    return { code: undefined, fix: undefined };
  }
}

/** Full-jitter exponential backoff: random in [0, min(max, base * 2^attempt)], at least 1 ms. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(1, Math.round(random() * ceiling));
}

/** `Retry-After` as seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | string[] | undefined, now: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function saysApplied(body: string): boolean {
  try {
    const status = (JSON.parse(body) as { status?: unknown }).status;
    return status === 'applied' || status === 'duplicate';
  } catch {
    return false;
  }
}

function summarize(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
    if (typeof parsed.error === 'string') return typeof parsed.message === 'string' ? `${parsed.error}: ${parsed.message}` : parsed.error;
  } catch {
    // not JSON: show the start of the text
  }
  return body.slice(0, 300) || '(empty body)';
}
