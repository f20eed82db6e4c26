import type { FastifyPluginAsync } from 'fastify';
import { formatDomainError } from '../graphql/errors';
import { DomainError, ErrorCode } from '../shared/errors';
import { STREAM_PATH } from './graphql-sse.server';
import type { LiveUpdates } from './live-updates';

/**
 * GraphQL over Server-Sent Events at `/graphql/stream` (graphql-sse.server.ts): GET and POST open
 * a stream, once the `onRequest` hook has authenticated the request (before its body is read).
 * Registered after `live.attach`, which builds the stream server.
 */
export const sseRoutes: FastifyPluginAsync<{ live: LiveUpdates }> = async (app, { live }) => {
  const streams = live.streams;
  if (!streams) throw new Error('sseRoutes registered before live.attach');
  app.route({
    method: ['GET', 'POST'],
    url: STREAM_PATH,
    onRequest: async (request, reply) => {
      if (!(await streams.admit(request, reply))) return reply;
      return undefined;
    },
    handler: (request, reply) => streams.serve(request, reply),
  });
  // graphql-sse's single connection mode reserves a stream with PUT and completes with DELETE.
  app.route({
    method: ['PUT', 'DELETE'],
    url: STREAM_PATH,
    handler: async (_request, reply) => {
      const error = new DomainError(
        ErrorCode.BAD_INPUT,
        `Single connection mode is not offered at ${STREAM_PATH}: its reservations live in one server process. Use graphql-sse's default distinct connections mode (singleConnection: false)`,
      );
      return reply
        .code(405)
        .header('allow', 'GET, POST')
        .send({ errors: [formatDomainError({ message: error.message }, error)] });
    },
  });
};
