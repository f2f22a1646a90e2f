import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * What the proxy does to traffic, decided afresh for every piece of data (so connections kept
 * alive across a mode change get the new behaviour too):
 * - `pass`: forwards both ways;
 * - `reset`: resets the connection as soon as the sender writes;
 * - `reset-response`: forwards the request, then resets instead of returning the answer: the
 *   receiver has applied the batch but the sender never hears so (the duplicate case);
 * - `hang`: swallows everything and keeps the connection open (the sender's timeout must fire);
 * - `slow`: forwards in small pieces with pauses both ways.
 */
export type FaultMode = 'pass' | 'reset' | 'reset-response' | 'hang' | 'slow';

const SLOW_PIECE_BYTES = 4096;
const SLOW_PAUSE_MS = 20;

/** A TCP proxy between the replicator and the receiver that misbehaves on command. */
export class FaultProxy {
  mode: FaultMode = 'pass';
  /** How many times each mode actually acted on traffic: proof the faults happened. */
  readonly acted: Record<FaultMode, number> = { pass: 0, reset: 0, 'reset-response': 0, hang: 0, slow: 0 };
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<FaultProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const proxy = new FaultProxy(server, (server.address() as { port: number }).port);
    server.on('connection', (client) => proxy.relay(client, targetPort));
    return proxy;
  }

  private relay(client: Socket, targetPort: number): void {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined); // resets are the point here
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    this.pipe(client, upstream, 'request');
    this.pipe(upstream, client, 'response');
  }

  private pipe(from: Socket, to: Socket, direction: 'request' | 'response'): void {
    from.on('data', (data: Buffer) => {
      const mode = this.mode;
      this.acted[mode] += 1;
      switch (mode) {
        case 'pass':
          to.write(data);
          return;
        case 'reset':
          this.resetBoth(from, to);
          return;
        case 'reset-response':
          if (direction === 'request') to.write(data);
          else this.resetBoth(from, to);
          return;
        case 'hang':
          return;
        case 'slow':
          from.pause();
          void this.trickle(data, to).then(() => from.resume());
          return;
      }
    });
  }

  private async trickle(data: Buffer, to: Socket): Promise<void> {
    for (let offset = 0; offset < data.length && !to.destroyed; offset += SLOW_PIECE_BYTES) {
      await new Promise((resolve) => setTimeout(resolve, SLOW_PAUSE_MS));
      to.write(data.subarray(offset, offset + SLOW_PIECE_BYTES));
    }
  }

  private resetBoth(a: Socket, b: Socket): void {
    for (const socket of [a, b]) if (!socket.destroyed) socket.resetAndDestroy();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
