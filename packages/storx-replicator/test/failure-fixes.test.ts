// The fix printed for each way a delivery fails is chosen from the real error Node reports.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { rejectionFix, transportFix } from '../src/deliver/failure-fixes.js';
import { WebhookClient } from '../src/deliver/webhook-client.js';

async function transportError(url: URL): Promise<string> {
  const client = new WebhookClient(url, { timeoutMs: 5_000 });
  try {
    await client.post({}, '{}');
    throw new Error('expected a transport error');
  } catch (error) {
    return (error as Error).message;
  } finally {
    client.close();
  }
}

describe('delivery failure fixes', () => {
  it('https:// to a plain-HTTP receiver, and nothing listening, name what to change', async () => {
    const server = createServer((_request, response) => response.end('{}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const https = new URL(`https://127.0.0.1:${port}/webhook`);
      expect(transportFix(await transportError(https), https)).toBe(`the receiver at 127.0.0.1:${port} does not speak https: use http:// in replication.webhook-url, or start the receiver with tls-cert and tls-key`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const refused = new URL(`http://127.0.0.1:${port}/webhook`);
    expect(transportFix(await transportError(refused), refused)).toBe(`nothing listens at 127.0.0.1:${port}: start backuptools-receiver serve there, or fix the host and port in replication.webhook-url`);
  });

  it('a refusal without a receiver fix: 401, 404 and a foreign 2xx', () => {
    expect(rejectionFix('HTTP_404', 404, undefined)).toContain("the receiver's endpoint is POST /webhook");
    expect(rejectionFix('HTTP_401', 401, undefined)).toContain('trusted-sender-keys');
    expect(rejectionFix('NOT_A_RECEIVER', 200, undefined)).toContain('not another service');
    expect(rejectionFix('TABLE_NOT_ALLOWED', 422, "add the table to the receiver's tables")).toBe("add the table to the receiver's tables");
  });
});
