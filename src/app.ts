import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import fastifyMultipart from '@fastify/multipart';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { DEFAULT_HTTP_TIMEOUTS, DEFAULT_SESSION_TIMEOUTS, type AppConfig } from './config';
import { openDatabase, type Database } from './db/database';
import { lazyViewer, type RequestContext } from './graphql/context';
import { createFormatError } from './graphql/errors';
import { jitGateway } from './graphql/jit-executor';
import { graphQLValidationFor, limitMessagesPlugin } from './graphql/query-limits';
import { buildGraphQLSchema } from './graphql/schema';
import { httpErrorHandler } from './http/errors';
import { healthRoutes } from './http/health.routes';
import { clientErrorHandler, frameworkErrorHandler, loggerOptions, requestGuards, requestId } from './http/request-guards';
import { securityHeaders } from './http/security-headers';
import { legacyRoutes } from './legacy/legacy.routes';
import { AuthService } from './modules/auth/auth.service';
import { LoginThrottle, type LoginThrottleOptions } from './modules/auth/login-throttle';
import type { ChangeSink } from './modules/event/ticket-change';
import { MAX_IMAGE_BYTES, MAX_IMAGES_PER_TICKET } from './modules/image/image.limits';
import { imageRoutes } from './modules/image/image.routes';
import { ImageService } from './modules/image/image.service';
import { ReplyService } from './modules/reply/reply.service';
import { authorizationFromHeader } from './modules/session/authorization';
import { SessionService } from './modules/session/session.service';
import { idempotencyKeyHeader } from './modules/ticket/idempotency';
import { TicketReader } from './modules/ticket/ticket.query';
import { TicketService } from './modules/ticket/ticket.service';
import { UserDirectory } from './modules/user/user-directory';
import { UserLifecycleService } from './modules/user/user-lifecycle.service';
import { UserService } from './modules/user/user.service';
import { createLiveUpdates, type LiveUpdates } from './realtime/live-updates';
import type { Services } from './services';

/**
 * JSON bodies may carry up to 10 inline images of 10 MiB, base64-encoded (4/3 larger), plus
 * text: anything beyond is refused with 413 before it is parsed.
 */
export const MAX_JSON_BODY_BYTES = Math.ceil((MAX_IMAGES_PER_TICKET * MAX_IMAGE_BYTES * 4) / 3) + 1024 * 1024;

/** The routes whose JSON bodies carry inline images; every other route takes at most {@link MAX_SMALL_BODY_BYTES}. */
const LARGE_BODY_ROUTES = new Set(['/graphql', '/api/ticket']);
/** Uploads stream multipart (bounded by the multipart limits); anything else a route reads is small. */
export const MAX_SMALL_BODY_BYTES = 64 * 1024;

export interface AppOptions {
  /** Every SQL statement, for tests that count them. */
  onQuery?: (sql: string) => void;
  /** Replaces the pino logger settings (tests pass false); redaction applies whatever the level. */
  logger?: boolean | { level: string };
  /** Where log lines go instead of stdout (tests capture them). */
  logStream?: { write(line: string): void };
  /** Failed-login limits instead of SPEC's (tests that fail logins on purpose by the hundred). */
  loginThrottle?: LoginThrottleOptions;
}

export interface App {
  readonly config: AppConfig;
  readonly server: FastifyInstance;
  readonly database: Database;
  readonly services: Services;
  /** Live updates: event log sink, bus, fan-out hub and the graphql-ws server. */
  readonly live: LiveUpdates;
  /** Set when the bootstrap administrator was created with a generated password. */
  readonly generatedAdminPassword?: string;
  /** Starts listening on config.host:config.port; resolves to the base URL. */
  listen(): Promise<string>;
  /** Base URL of the listening server (after listen). */
  readonly url: string;
  /** Base of absolute image URLs: PUBLIC_URL, else the listening URL. */
  readonly publicUrl: string;
  /** Stops accepting work, drains in-flight requests, closes the database. */
  close(): Promise<void>;
}

/** The timeout settings the configuration sets (tests leave most unset). */
function definedOnly(config: AppConfig): Partial<Record<keyof typeof DEFAULT_HTTP_TIMEOUTS, number>> {
  const { headersTimeoutMs, requestTimeoutMs, idleTimeoutMs, keepAliveTimeoutMs } = config;
  return Object.fromEntries(
    Object.entries({ headersTimeoutMs, requestTimeoutMs, idleTimeoutMs, keepAliveTimeoutMs }).filter(([, value]) => value !== undefined),
  );
}

/**
 * The composition root: database, domain services, GraphQL schema, HTTP routes. `main.ts` and
 * the tests both build the server through here.
 */
export async function createApp(config: AppConfig, options: AppOptions = {}): Promise<App> {
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, onQuery: options.onQuery });
  const { orm } = database;
  const fork = () => orm.em.fork();

  const live = await createLiveUpdates(config, database).catch(async (error: unknown) => {
    await database.close();
    throw error;
  });
  const changes: ChangeSink = live.changes;
  const users = new UserService();
  const images = new ImageService();
  const tickets = new TicketService(images, changes);
  const core = {
    auth: new AuthService({
      key: config.credentialKey,
      users: users.lookup(fork),
      throttle: options.loginThrottle ? new LoginThrottle(options.loginThrottle) : undefined,
    }),
    users,
    images,
    tickets,
    replies: new ReplyService(tickets),
    reader: new TicketReader(),
  };
  // People (issue 11): sign-in tokens, the directory and the lifecycle, over the same bus as events.
  const sessions = new SessionService({
    auth: core.auth,
    fork,
    changes: live.userChanges,
    settings: {
      idleTimeoutMs: config.sessionIdleTimeoutMs ?? DEFAULT_SESSION_TIMEOUTS.sessionIdleTimeoutMs,
      maxAgeMs: config.sessionMaxAgeMs ?? DEFAULT_SESSION_TIMEOUTS.sessionMaxAgeMs,
    },
  });
  const directory = new UserDirectory();
  const services: Services = {
    ...core,
    sessions,
    directory,
    lifecycle: new UserLifecycleService({ auth: core.auth, sessions, directory, changes: live.userChanges }),
  };

  let admin: { created: boolean; generatedPassword?: string };
  try {
    admin = await users.ensureAdmin(fork(), config.adminUsername, config.adminPassword);
  } catch (error) {
    await live.bus.close();
    await database.close();
    throw error;
  }

  const https = config.publicUrl?.startsWith('https:') ?? false;
  const timeouts = { ...DEFAULT_HTTP_TIMEOUTS, ...definedOnly(config) };
  const server = Fastify({
    logger: options.logger === false ? false : loggerOptions(options.logger === true || !options.logger ? config.logLevel : options.logger.level, options.logStream),
    genReqId: requestId,
    bodyLimit: MAX_JSON_BODY_BYTES,
    // Behind a proxy the operator sets this; the throttle keys failed logins by client address.
    trustProxy: false,
    // Slow clients: headers, the whole request, silence, idle keep-alive (config.ts).
    http: { headersTimeout: timeouts.headersTimeoutMs, connectionsCheckingInterval: Math.min(1_000, timeouts.headersTimeoutMs) },
    requestTimeout: timeouts.requestTimeoutMs,
    connectionTimeout: timeouts.idleTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    frameworkErrors: frameworkErrorHandler({ https }),
    clientErrorHandler: clientErrorHandler({ https }),
  });
  server.setErrorHandler(httpErrorHandler);
  securityHeaders(server, { https, landingPage: config.graphqlLandingPage ?? false });
  requestGuards(server);
  server.addHook('onRoute', (route) => {
    if (!LARGE_BODY_ROUTES.has(route.url)) route.bodyLimit ??= MAX_SMALL_BODY_BYTES;
  });
  await server.register(fastifyMultipart, {
    limits: { fileSize: MAX_IMAGE_BYTES, files: MAX_IMAGES_PER_TICKET, fields: 50, fieldSize: 1024 * 1024, parts: 100 },
  });

  let listeningUrl = '';
  const publicUrl = () => config.publicUrl ?? listeningUrl;

  const schema = await buildGraphQLSchema();
  // The same limits as graphql-ws (live-updates.ts passes them to the socket server).
  const validation = graphQLValidationFor(config);
  const apollo = new ApolloServer<RequestContext>({
    gateway: jitGateway(schema),
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
      config.graphqlLandingPage ? ApolloServerPluginLandingPageLocalDefault({ footer: false }) : ApolloServerPluginLandingPageDisabled(),
      limitMessagesPlugin(validation),
    ],
  });
  await apollo.start();
  await server.register(fastifyApollo(apollo), {
    path: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    context: async (request) => ({
      em: fork(),
      services,
      publicUrl: publicUrl(),
      ...lazyViewer(services, authorizationFromHeader(request.headers.authorization), request.ip),
      clientAddress: request.ip,
      userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : undefined,
      idempotencyKey: idempotencyKeyHeader(request.raw.rawHeaders),
    }),
  });
  await server.register(healthRoutes, { database });
  await server.register(imageRoutes, { services, fork, publicUrl });
  await live.attach(server, { schema, services, publicUrl });
  await server.register(legacyRoutes, { services, fork, publicUrl });

  let closed: Promise<void> | undefined;
  return {
    config,
    server,
    database,
    services,
    live,
    generatedAdminPassword: admin.generatedPassword,
    get url() {
      return listeningUrl;
    },
    get publicUrl() {
      return publicUrl();
    },
    async listen() {
      await server.listen({ port: config.port, host: config.host });
      const address = server.server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      listeningUrl = `http://${host}:${address.port}`;
      return listeningUrl;
    },
    close() {
      closed ??= (async () => {
        // Sockets close (1001) after in-flight requests finish and their events are delivered.
        await live.close(() => server.close());
        await apollo.stop();
        await database.close();
      })();
      return closed;
    },
  };
}
