import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface WebhookResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A failure before any HTTP status: refused, reset, DNS, TLS, or the timeout. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly kind: 'timeout' | 'network',
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs to the receiver over a keep-alive connection. node:http rather than fetch, for a
 * private CA (`webhook-ca`) without extra dependencies and a hard timeout per request.
 */
export class WebhookClient {
  private readonly agent: HttpAgent | HttpsAgent;

  constructor(
    private readonly url: URL,
    /** `connections`: keep-alive connections at most (default 1); one per batch in flight (replication.max-in-flight). */
    private readonly options: { timeoutMs: number; ca?: Buffer; connections?: number },
  ) {
    const maxSockets = Math.max(1, options.connections ?? 1);
    this.agent = url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets, ...(options.ca ? { ca: options.ca } : {}) }) : new HttpAgent({ keepAlive: true, maxSockets });
  }

  post(headers: Record<string, string>, body: string | Uint8Array, signal?: AbortSignal): Promise<WebhookResponse> {
    const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<WebhookResponse>((resolve, reject) => {
      const request = send(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        timeout: this.options.timeoutMs,
        ...(signal ? { signal } : {}),
      });
      request.on('timeout', () => request.destroy(new TransportError('timeout', `no answer from ${this.url.origin} within ${this.options.timeoutMs} ms`)));
      request.on('error', (error) => reject(error instanceof TransportError ? error : new TransportError('network', `${this.url.origin}: ${error.message}`, { cause: error })));
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', (error) => reject(new TransportError('network', `${this.url.origin}: response interrupted: ${error.message}`, { cause: error })));
      });
      request.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
