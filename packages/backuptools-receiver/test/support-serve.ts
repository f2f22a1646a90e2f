import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { writeKeyPair } from '@storx-backup/protocol';
import { waitFor } from '@storx-backup/test-postgres';
import type { TestKeys } from './support.js';

export interface ServeProcess {
  url: string;
  port: number;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

/** `backuptools-receiver serve` as a child process (the built CLI), with `options` as its YAML config. */
export async function startServe(dir: string, keys: TestKeys, options: Record<string, string>): Promise<ServeProcess> {
  const { privateKeyPath } = await writeKeyPair(join(dir, 'keys'), 'receiver', keys.pem.receiver);
  const { publicKeyPath } = await writeKeyPair(join(dir, 'keys'), 'sender', keys.pem.sender);
  const config = join(dir, 'receiver.yaml');
  const lines = { 'listen-host': '127.0.0.1', 'listen-port': '0', 'private-keys': `[${privateKeyPath}]`, 'trusted-sender-keys': `[${publicKeyPath}]`, ...options };
  await writeFile(config, Object.entries(lines).map(([key, value]) => `${key}: ${value}\n`).join(''));
  const child: ChildProcess = spawn(process.execPath, [join(import.meta.dirname, '..', 'bin', 'backuptools-receiver.js'), 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await waitFor(() => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output)?.[1], { description: () => `receiver to listen (output: ${output})`, timeoutMs: 30_000 }).catch(async (error: unknown) => {
    // Never leave the process behind when it did not come up.
    child.kill('SIGKILL');
    await exited;
    throw error;
  });
  return {
    url,
    port: Number(new URL(url).port),
    pid: child.pid!,
    output: () => output,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface RawRequest {
  socket: Socket;
  /** Everything the server wrote so far. */
  received(): string;
  /** The status code of the first answer, once one arrived. */
  status(): number | undefined;
  closed: Promise<void>;
  isClosed(): boolean;
}

/**
 * A request written by hand on a TCP socket, so that a test can stall, trickle or lie about its
 * length. `from` is the local address (any of 127/8), to act as another peer.
 */
export function rawRequest(port: number, head: Record<string, string>, options: { path?: string; from?: string } = {}): RawRequest {
  const path = options.path ?? '/webhook';
  const socket = connect({ port, host: '127.0.0.1', ...(options.from === undefined ? {} : { localAddress: options.from }) });
  let received = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => {
    // EPIPE / ECONNRESET once the server closes: what several tests wait for.
  });
  const closedPromise = new Promise<void>((resolve) => socket.once('close', () => ((closed = true), resolve())));
  socket.write(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${Object.entries(head).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`);
  return {
    socket,
    received: () => received,
    status: () => {
      const match = /^HTTP\/1\.1 (\d{3})/.exec(received);
      return match ? Number(match[1]) : undefined;
    },
    closed: closedPromise,
    isClosed: () => closed,
  };
}

/**
 * Well-formed webhook headers with a fresh timestamp and signatures nobody made: they pass every
 * check that can be made before the body. `v1d` comes with a v3 content type, `v1a` with v2.
 */
export function plausibleHeaders(signatures = 1, scheme: 'v1a' | 'v1d' = 'v1a'): Record<string, string> {
  return {
    'content-type': scheme === 'v1d' ? 'application/vnd.storx.envelope.v3' : 'application/jose',
    'webhook-id': `probe-${randomBytes(6).toString('hex')}`,
    'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
    'webhook-signature': Array.from({ length: signatures }, () => `${scheme},${randomBytes(64).toString('base64')}`).join(' '),
  };
}

export interface HealthSampler {
  /** Stops sampling; the longest /healthz answer time seen, and how many were taken. */
  stop(): Promise<{ maxMs: number; samples: number }>;
}

/** Asks /healthz every 20 ms and records how long each answer took: the event loop's stalls, seen from outside. */
export function sampleHealth(url: string): HealthSampler {
  let running = true;
  let maxMs = 0;
  let samples = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const response = await fetch(`${url}/healthz`).catch(() => undefined);
      await response?.arrayBuffer();
      maxMs = Math.max(maxMs, performance.now() - started);
      samples += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { maxMs: Math.round(maxMs), samples };
    },
  };
}
