import { request } from 'node:http';
import type { ReplicatorConfig } from '../config.js';

/** What `run` says about itself on /healthz (replication.metrics-listen). */
export interface RunHealth {
  status: 'ok' | 'unhealthy' | 'blocked';
  failure: { code: string; http_status: number | null; message: string; fix: string; since: string; attempts: number; commit_lsn: string | null } | null;
}

/**
 * Asks the local `run` (its /healthz on replication.metrics-listen) how delivery goes. Undefined
 * when metrics-listen is off, nothing answers there (run is not running), or the answer is not
 * a replicator's: status then relies on the receiver's record of refusals.
 */
export async function readRunHealth(config: ReplicatorConfig, timeoutMs = 2_000): Promise<RunHealth | undefined> {
  const listen = config.metricsListen;
  if (listen === undefined) return undefined;
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  const body = await new Promise<string | undefined>((resolve) => {
    const req = request({ host, port: listen.port, path: '/healthz', timeout: timeoutMs }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text.length < 65_536 ? (text += chunk) : undefined));
      response.on('end', () => resolve(text));
      response.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
  if (body === undefined) return undefined;
  try {
    const parsed = JSON.parse(body) as Partial<RunHealth>;
    if (parsed.status !== 'ok' && parsed.status !== 'unhealthy' && parsed.status !== 'blocked') return undefined;
    return { status: parsed.status, failure: typeof parsed.failure === 'object' && parsed.failure !== null ? parsed.failure : null };
  } catch {
    return undefined;
  }
}
