import type { FastifyInstance } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Metrics } from './metrics';

/** How often the database is checked for `helpdesk_database_up` (one `select 1`). */
export const DATABASE_CHECK_INTERVAL_MS = 5_000;
const DATABASE_CHECK_TIMEOUT_MS = 2_000;

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Whether an Authorization header carries `Bearer <token>`. Both sides are hashed first, so the
 * comparison takes the same time whatever the header's length or how much of it matches.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header ?? '');
  const presented = match?.[1] ?? '';
  return timingSafeEqual(digest(presented), digest(token)) && presented !== '';
}

export interface MetricsRoutesOptions {
  metrics: Metrics;
  token: string;
  /** Resolves when the database answers (the readiness check's own ping). */
  ping: () => Promise<void>;
}

/**
 * `GET /metrics` for Prometheus, behind `Authorization: Bearer METRICS_TOKEN` (401 otherwise);
 * every response's method, route pattern, status and duration; a database check every
 * {@link DATABASE_CHECK_INTERVAL_MS} for `helpdesk_database_up` and the outage counter.
 */
export function metricsRoutes(app: FastifyInstance, { metrics, token, ping }: MetricsRoutesOptions): void {
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern (`/api/ticket`, `/images/:id`), never the URL: ids stay out of labels.
    metrics.httpResponse(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.get('/metrics', async (request, reply) => {
    if (!bearerMatches(request.headers.authorization, token)) {
      return reply
        .status(401)
        .header('www-authenticate', 'Bearer realm="metrics"')
        .send({ code: 'UNAUTHENTICATED', message: 'GET /metrics needs the header Authorization: Bearer <METRICS_TOKEN>' });
    }
    const { contentType, body } = await metrics.scrape();
    return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
  });

  let checking = false;
  const check = async () => {
    if (checking) return;
    checking = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        ping(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('database check timed out')), DATABASE_CHECK_TIMEOUT_MS);
        }),
      ]);
      metrics.databaseChecked(true);
    } catch {
      metrics.databaseChecked(false);
    } finally {
      clearTimeout(timer);
      checking = false;
    }
  };
  const interval = setInterval(() => void check(), DATABASE_CHECK_INTERVAL_MS);
  interval.unref();
  app.addHook('onReady', check);
  app.addHook('onClose', async () => clearInterval(interval));
}
