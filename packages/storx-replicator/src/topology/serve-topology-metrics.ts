import { createServer } from 'node:http';
import { UsageError, type CommandContext } from '@storx-backup/service-kit';
import { TopologyMetrics } from './topology-metrics.js';
import type { TopologyReport } from './topology-report.js';

/**
 * Serves /metrics (a fresh report per scrape; concurrent scrapes share one) and /healthz until
 * SIGTERM or SIGINT. The port is the exporter's; the figures are the topology's.
 */
export async function serveTopologyMetrics(listen: string, collect: () => Promise<TopologyReport>, context: CommandContext): Promise<void> {
  const match = /^\[?(.*?)\]?:(\d{1,5})$/.exec(listen);
  if (!match || Number(match[2]) > 65535) throw new UsageError(`--metrics-listen: ${JSON.stringify(listen)} is not host:port (e.g. 0.0.0.0:9188)`);
  const metrics = new TopologyMetrics();
  let inFlight: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    inFlight ??= collect()
      .then((report) => metrics.update(report))
      .finally(() => (inFlight = undefined));
    return inFlight;
  };
  const server = createServer((request, response) => {
    if (request.url === '/metrics') {
      refresh()
        .then(() => metrics.registry.metrics())
        .then(
          (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
          (error: unknown) => response.writeHead(500).end(`collecting the topology failed: ${(error as Error).message}\n`),
        );
    } else if (request.url === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(match[2]), match[1] === '' ? '0.0.0.0' : match[1], () => resolve());
  });
  context.stderr(`storx-replicator topology: metrics on http://${listen}/metrics\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
