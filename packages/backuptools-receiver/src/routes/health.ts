import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { BackupDb } from '../db.js';
import type { ReceiverMetrics } from '../metrics.js';

/** /healthz: the process answers. /readyz: the backup database answers too. /metrics: Prometheus. */
export function registerHealthRoutes(app: FastifyInstance, db: BackupDb, metrics: ReceiverMetrics): void {
  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    try {
      await sql`SELECT 1`.execute(db);
      return { status: 'ready' };
    } catch (error) {
      return reply.code(503).header('retry-after', '5').send({ status: 'unavailable', error: 'DATABASE_UNAVAILABLE', message: (error as Error).message });
    }
  });

  app.get('/metrics', async (_request, reply) => reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()));
}
