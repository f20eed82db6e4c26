import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import type { EntityManager } from '@mikro-orm/core';
import type { FastifyInstance } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import { lazyViewer, type RequestContext } from '../graphql/context';
import { createFormatError } from '../graphql/errors';
import { jitGateway } from '../graphql/jit-executor';
import { limitMessagesPlugin, type GraphQLValidation } from '../graphql/query-limits';
import { authorizationFromHeader } from '../modules/session/authorization';
import type { Services } from '../services';
import { verifiedViewerOf } from './auth-before-body';
import { idempotencyKeyHeader } from './idempotency-header';
import { stringifyResult, withNewline } from './json-body';
import { MAX_JSON_BODY_BYTES } from './route-config';

export const GRAPHQL_PATH = '/graphql';

export interface GraphQLRoutesOptions {
  readonly schema: GraphQLSchema;
  readonly services: Services;
  readonly fork: () => EntityManager;
  readonly publicUrl: () => string;
  /** The same limits as graphql-ws (live-updates.ts passes them to the socket server). */
  readonly validation: GraphQLValidation;
  /** GRAPHQL_LANDING_PAGE: a browser opening the path gets Apollo Sandbox. */
  readonly landingPage: boolean;
  /** More Apollo plugins (metrics). */
  readonly plugins?: readonly ApolloServerPlugin<RequestContext>[];
}

/** What the composition root keeps of the GraphQL route: stopping Apollo after the server drained. */
export interface GraphQLRoutes {
  stop(): Promise<void>;
}

/**
 * `POST`/`GET /graphql` on Apollo Server: the queries run on graphql-jit, each with a fresh
 * EntityManager and the viewer its Authorization header names (verified before the body when it
 * was sent, http/auth-before-body.ts). The route declares its inline-image body limit and that
 * its credential is a header.
 */
export async function graphqlRoutes(server: FastifyInstance, options: GraphQLRoutesOptions): Promise<GraphQLRoutes> {
  const { services, fork, publicUrl, validation } = options;
  server.addHook('onRoute', (route) => {
    if (route.url !== GRAPHQL_PATH) return;
    route.bodyLimit = MAX_JSON_BODY_BYTES;
    route.config = { ...route.config, largeBody: true, credentialInHeader: true };
    // What Apollo's handler answers with (the text of `stringifyResult` below) goes out as one
    // Buffer (http/json-body.ts); errors thrown before Apollo answers are not its text and pass.
    const apolloHandler = route.handler;
    route.handler = async function (request, reply) {
      return withNewline(await apolloHandler.call(this, request, reply), reply.getHeader('content-type'));
    };
  });
  const apollo = new ApolloServer<RequestContext>({
    gateway: jitGateway(options.schema),
    // JSON.stringify alone: the route's handler adds Apollo's newline (http/json-body.ts).
    stringifyResult,
    formatError: createFormatError((error) => server.log.error({ err: error }, 'unhandled GraphQL error')),
    includeStacktraceInErrorResponses: false,
    // main.ts owns SIGTERM/SIGINT: Apollo's own handlers would stop it and re-raise the signal,
    // killing the process before in-flight requests finish and the database closes (found by
    // test/hardening/faults-sigterm.test.ts; Apollo skips them only when NODE_ENV is "test").
    stopOnTerminationSignals: false,
    introspection: validation.introspection,
    hideSchemaDetailsFromClientErrors: !validation.introspection,
    validationRules: [...validation.limitRules],
    parseOptions: validation.parseOptions,
    // Apollo's default, stated: a browser's simple request (form POST, plain GET) is refused.
    csrfPrevention: true,
    plugins: [
      fastifyApolloDrainPlugin(server),
      // We set no cache hints; left on, Apollo wraps every field resolver to collect them, which
      // cost a third of the CPU of a 50-ticket page (docs/performance.md).
      ApolloServerPluginCacheControlDisabled(),
      options.landingPage ? ApolloServerPluginLandingPageLocalDefault({ footer: false }) : ApolloServerPluginLandingPageDisabled(),
      limitMessagesPlugin(validation),
      ...(options.plugins ?? []),
    ],
  });
  await apollo.start();
  await server.register(fastifyApollo(apollo), {
    path: GRAPHQL_PATH,
    method: ['GET', 'POST', 'OPTIONS'],
    context: async (request) => ({
      em: fork(),
      services,
      publicUrl: publicUrl(),
      ...lazyViewer(services, authorizationFromHeader(request.headers.authorization), request.ip, verifiedViewerOf(request)),
      clientAddress: request.ip,
      userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : undefined,
      idempotencyKey: idempotencyKeyHeader(request.raw.rawHeaders),
    }),
  });
  return { stop: () => apollo.stop() };
}
