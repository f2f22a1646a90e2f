import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { BackupDb } from '../db.js';
import { loggableError } from '../http/loggable-error.js';
import type { ReceiverMetrics } from '../metrics.js';

/** /healthz: the process answers. /readyz: the backup database answers too. /metrics: Prometheus. */
export function registerHealthRoutes(app: FastifyInstance, db: BackupDb, metrics: ReceiverMetrics): void {
  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));

  app.get('/readyz', async (request, reply) => {
    try {
      await sql`SELECT 1`.execute(db);
      return { status: 'ready' };
    } catch (error) {
      // /readyz is unauthenticated: the reason (which names the database's address) goes to
      // the log, the answer says only what it is.
      request.log.warn({ err: loggableError(error) }, 'readyz: the backup database does not answer');
      return reply.code(503).header('retry-after', '5').send({ status: 'unavailable', error: 'DATABASE_UNAVAILABLE', message: 'the backup database does not answer; the receiver log has the reason' });
    }
  });

  app.get('/metrics', async (_request, reply) => reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()));
}
