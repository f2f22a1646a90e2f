import { describe, expect, it } from 'vitest';
import { backoffDelay, judgeResponse, parseRetryAfter } from '../src/deliver/retry-policy.js';

const response = (status: number, headers: Record<string, string> = {}, body = '') => ({ status, headers, body });

describe('retry policy', () => {
  it('delivers on 2xx only', () => {
    expect(judgeResponse(response(200)).kind).toBe('delivered');
    expect(judgeResponse(response(204)).kind).toBe('delivered');
  });

  it.each([500, 502, 503, 504, 429, 408, 425])('retries %i as transient', (status) => {
    expect(judgeResponse(response(status)).kind).toBe('transient');
  });

  it.each([400, 401, 403, 404, 409, 413, 415, 422])('treats %i as permanent (alert and block, never skip)', (status) => {
    const verdict = judgeResponse(response(status, {}, '{"error":"TABLE_NOT_ALLOWED","message":"table x"}'));
    expect(verdict).toMatchObject({ kind: 'permanent', reason: `HTTP ${status}: TABLE_NOT_ALLOWED: table x` });
  });

  it('honours Retry-After in seconds or as a date', () => {
    expect(judgeResponse(response(503, { 'retry-after': '7' }))).toMatchObject({ kind: 'transient', retryAfterMs: 7000 });
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', Date.parse('2026-01-01T00:00:00Z'))).toBe(10_000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
  });

  it('backs off exponentially with full jitter, capped', () => {
    expect(backoffDelay(0, 100, 10_000, () => 1)).toBe(100);
    expect(backoffDelay(3, 100, 10_000, () => 1)).toBe(800);
    expect(backoffDelay(20, 100, 10_000, () => 1)).toBe(10_000);
    expect(backoffDelay(3, 100, 10_000, () => 0.5)).toBe(400);
    expect(backoffDelay(3, 100, 10_000, () => 0)).toBe(1);
  });
});

describe('a 2xx that is not our receiver', () => {
  it('is not a delivery when an applied/duplicate body is required', () => {
    expect(judgeResponse(response(200, {}, '{"status":"applied","watermark":{}}'), 0, { requireAppliedBody: true }).kind).toBe('delivered');
    expect(judgeResponse(response(200, {}, '{"status":"duplicate"}'), 0, { requireAppliedBody: true }).kind).toBe('delivered');
    expect(judgeResponse(response(200, {}, '<html>welcome</html>'), 0, { requireAppliedBody: true })).toMatchObject({ kind: 'permanent', reason: expect.stringContaining('is another service answering at the webhook URL?') as string });
    expect(judgeResponse(response(204), 0, { requireAppliedBody: true }).kind).toBe('permanent');
    expect(judgeResponse(response(200, {}, 'ok')).kind).toBe('delivered');
  });
});
