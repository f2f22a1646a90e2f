import { createServer, request, type IncomingMessage, type Server } from 'node:http';

export type GateMode = 'pass' | 'unavailable' | 'hang';

/**
 * An HTTP proxy in front of the receiver that a test can close: `unavailable` answers 503
 * without forwarding, `hang` holds requests until the mode changes. Counts what it forwarded.
 */
export class GateProxy {
  mode: GateMode = 'pass';
  forwarded = 0;
  /** Requests answered 503 by the gate itself. */
  refused = 0;
  /** Requests being handled now (read, held or forwarded), and the most at once. */
  concurrent = 0;
  maxConcurrent = 0;
  /** After this many forwarded requests, switch to `unavailable` by itself. */
  closeAfter: number | undefined;
  /** After this many forwarded requests, switch to `hang` by itself (once). */
  hangAfter: number | undefined;
  /** Rewrites each forwarded answer's body (a test plays an older receiver). */
  rewrite: ((body: string) => string) | undefined;
  private readonly server: Server;
  private readonly held = new Set<() => void>();

  private constructor(private readonly target: URL) {
    this.server = createServer((incoming, outgoing) => {
      void this.handle(incoming).then(({ status, headers, body }) => {
        outgoing.writeHead(status, headers);
        outgoing.end(body);
      });
    });
  }

  static async start(target: string): Promise<GateProxy> {
    const proxy = new GateProxy(new URL(target));
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', () => resolve()));
    return proxy;
  }

  get url(): string {
    const { port } = this.server.address() as { port: number };
    return `http://127.0.0.1:${port}/webhook`;
  }

  setMode(mode: GateMode): void {
    this.mode = mode;
    for (const release of this.held) release();
    this.held.clear();
  }

  async close(): Promise<void> {
    this.setMode('unavailable');
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(incoming: IncomingMessage): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    this.concurrent += 1;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    try {
      return await this.answer(incoming);
    } finally {
      this.concurrent -= 1;
    }
  }

  private async answer(incoming: IncomingMessage): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    if (this.hangAfter !== undefined && this.forwarded >= this.hangAfter) {
      this.hangAfter = undefined;
      this.mode = 'hang';
    }
    while (this.mode === 'hang') await new Promise<void>((resolve) => this.held.add(resolve));
    if (this.mode === 'unavailable' || (this.closeAfter !== undefined && this.forwarded >= this.closeAfter)) {
      this.refused += 1;
      return { status: 503, headers: { 'content-type': 'application/json', 'retry-after': '0' }, body: '{"error":"DATABASE_UNAVAILABLE","message":"gate closed by the test"}' };
    }
    this.forwarded += 1;
    return new Promise((resolve, reject) => {
      const forward = request(new URL(this.target.pathname, this.target), { method: 'POST', headers: incoming.headers }, (response) => {
        const body: Buffer[] = [];
        response.on('data', (chunk: Buffer) => body.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 502, headers: { 'content-type': response.headers['content-type'] ?? 'application/json' }, body: (this.rewrite ?? ((text: string) => text))(Buffer.concat(body).toString()) }));
      });
      forward.on('error', reject);
      forward.end(Buffer.concat(chunks));
    });
  }
}
