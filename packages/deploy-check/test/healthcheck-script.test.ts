import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_DIR } from '../src/deployment.js';

// docker/healthcheck.mjs is what both images run as their HEALTHCHECK: run it for real.
const script = join(DOCKER_DIR, 'healthcheck.mjs');
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((request, response) => response.writeHead(request.url === '/healthz' ? 200 : 503).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function probe(url: string): Promise<number> {
  try {
    await promisify(execFile)(process.execPath, [script, url]);
    return 0;
  } catch (error) {
    return (error as { code: number }).code;
  }
}

describe('docker/healthcheck.mjs', () => {
  it('exits 0 on a 2xx answer, 1 on anything else or no answer', async () => {
    expect(await probe(`${base}/healthz`)).toBe(0);
    expect(await probe(`${base}/unhealthy`)).toBe(1);
    server.closeAllConnections();
    expect(await probe('http://127.0.0.1:1/healthz')).toBe(1);
  });

  it('probes an https receiver whose certificate names the host, not 127.0.0.1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deploy-check-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=backup-host.example', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const https = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_request, response) => response.writeHead(200).end());
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    try {
      expect(await probe(`https://127.0.0.1:${(https.address() as { port: number }).port}/healthz`)).toBe(0);
    } finally {
      https.closeAllConnections();
      await new Promise<void>((resolve) => https.close(() => resolve()));
    }
  });
});
