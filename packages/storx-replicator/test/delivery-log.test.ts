// What run's log says while deliveries fail (issue 17): a wrong path (404) and then an unreachable
// receiver are each logged once when the state starts, with the fix (an error: by then the
// replicator is unhealthy), and once when deliveries recover; every other attempt only at
// debug, and never a stack trace.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicKey } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair, generateRsaKeyPair, keyId, parseLsn } from '@storx-backup/protocol';
import { createLogger } from '@storx-backup/service-kit';
import { waitFor } from '@storx-backup/test-postgres';
import { BatchDelivery } from '../src/deliver/batch-delivery.js';
import { RelationMetadata } from '../src/deliver/relation-metadata.js';
import { WebhookClient } from '../src/deliver/webhook-client.js';
import { ReplicatorMetrics } from '../src/metrics.js';
import { EncodedEvents } from '../src/batch/encoded-events.js';
import { createPrivateKey } from 'node:crypto';

interface LogLine {
  level: number;
  msg: string;
  code?: string;
  fix?: string;
  err?: unknown;
}

/** A real HTTP server on a fixed port that answers as told (or is closed: nothing listens). */
class FakeReceiver {
  answer: 'wrong-path' | 'applied' = 'wrong-path';
  requests = 0;
  private server: Server | undefined;
  port = 0;

  async open(): Promise<void> {
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        this.requests += 1;
        // What Fastify answers for a path the receiver does not serve.
        if (this.answer === 'wrong-path') response.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Route POST:/hook not found","error":"Not Found","statusCode":404}');
        else response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"applied","watermark":{"commit_lsn":"0/16B3748","chunk_index":0,"chunk_last":true}}');
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

const receiver = new FakeReceiver();
afterAll(() => receiver.close());

describe("run's log while deliveries fail", () => {
  it('a 404 and an unreachable receiver: one line each when the state starts, with the fix, one when it ends; no stack traces', async () => {
    await receiver.open();
    const url = new URL(`http://127.0.0.1:${receiver.port}/hook`);
    const lines: LogLine[] = [];
    const logger = createLogger({ name: 'test', level: 'debug', destination: { write: (chunk: string) => lines.push(JSON.parse(chunk) as LogLine) > 0 } as unknown as NodeJS.WritableStream });
    const rsa = generateRsaKeyPair(2048);
    const recipient = createPublicKey(rsa.publicKeyPem);
    const client = new WebhookClient(url, { timeoutMs: 5_000 });
    const delivery = new BatchDelivery({
      sourceId: 'log-test',
      slot: 'log_slot',
      format: 'v2',
      recipient: { key: recipient, kid: keyId(recipient) },
      signingKeys: [createPrivateKey(generateEd25519KeyPair().privateKeyPem)],
      retryDelayMs: 20,
      maxRetryDelayMs: 300,
      blockedRetryIntervalMs: 50,
      url,
      maxRetries: 3,
      client,
      metadata: new RelationMetadata({ query: () => Promise.reject(new Error('no relation in this batch')) }),
      metrics: new ReplicatorMetrics(),
      logger,
    });
    const batch = { commitLsn: parseLsn('0/16B3748'), chunk: { index: 0, last: true }, ackLsn: parseLsn('0/16B3780'), events: new EncodedEvents(), relations: new Map(), bytes: 0, lastCommitTimeMs: Date.now() };
    const controller = new AbortController();
    const delivered = delivery.deliver(batch, controller.signal);
    try {
      // Refused with 404: the batch is sent again (after pings) several times.
      // More attempts of the batch than max-retries: the replicator is unhealthy when the state changes.
      await waitFor(() => lines.filter((line) => line.msg === 'still refused').length >= 3, { description: 'several attempts while the path is wrong', timeoutMs: 30_000 });
      // Then nothing listens there at all.
      await receiver.close();
      await waitFor(() => lines.filter((line) => line.level === 20 && line.msg === 'delivery failed again, retrying').length >= 3, { description: 'several attempts while unreachable', timeoutMs: 30_000 });
      // And then the receiver answers.
      receiver.answer = 'applied';
      await receiver.open();
      await delivered;
    } finally {
      controller.abort();
      client.close();
    }

    const loud = lines.filter((line) => line.level >= 30);
    expect(loud.map((line) => [line.level, line.msg.replace(/ \d+ ms/, ' N ms').replace(/failed \d+ times/, 'failed N times'), line.code])).toEqual([
      [50, 'replication is blocked: the receiver refuses a batch (HTTP_404); nothing is skipped and the slot stays where it is; retrying every N ms once the cause is fixed', 'HTTP_404'],
      // The second state: the replicator is unhealthy already (404s counted), and says so with the new fix.
      [50, 'delivery failed N times in a row: reporting unhealthy, still retrying', 'network'],
      [30, 'delivery recovered', 'network'],
    ]);
    expect(loud[0]!.fix).toBe("check replication.webhook-url: the receiver's endpoint is POST /webhook (storx-replicator doctor checks it)");
    expect(loud[1]!.fix).toBe(`nothing listens at 127.0.0.1:${receiver.port}: start backuptools-receiver serve there, or fix the host and port in replication.webhook-url`);
    expect(lines.filter((line) => line.err !== undefined || JSON.stringify(line).includes('    at '))).toEqual([]);
  });
});
