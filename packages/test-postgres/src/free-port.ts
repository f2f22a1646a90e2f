import { createServer } from 'node:net';

/**
 * A TCP port that was free a moment ago: the OS picks one for a listener on port 0 that
 * is closed right away. Another process may take it before PostgreSQL binds it, so the
 * caller retries on "address already in use".
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error(`Could not read the port of a listener on ${host}`));
      });
    });
  });
}
