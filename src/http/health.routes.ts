import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/database';

const READINESS_TIMEOUT_MS = 2_000;

/** `/healthz`: the process answers. `/readyz`: and its database answers too (503 otherwise). */
export async function healthRoutes(app: FastifyInstance, options: { database: Database }): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (request, reply) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('database did not answer in time')), READINESS_TIMEOUT_MS);
    });
    try {
      await Promise.race([options.database.ping(), timeout]);
      return { status: 'ready', database: options.database.kind };
    } catch (error) {
      request.log.warn({ err: error }, 'readiness check failed');
      return reply.status(503).send({ status: 'unavailable', database: options.database.kind });
    } finally {
      clearTimeout(timer);
    }
  });
}
