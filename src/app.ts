import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import fastifyMultipart from '@fastify/multipart';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { DEFAULT_HTTP_TIMEOUTS, DEFAULT_SESSION_TIMEOUTS, type AppConfig } from './config';
import { openDatabase, type Database } from './db/database';
import { lazyViewer, viewerFromAuthorization, type RequestContext } from './graphql/context';
import { createFormatError } from './graphql/errors';
import { jitGateway } from './graphql/jit-executor';
import { graphQLValidationFor, limitMessagesPlugin } from './graphql/query-limits';
import { buildGraphQLSchema } from './graphql/schema';
import { fastifyTrustProxy } from './http/client-address';
import { httpErrorHandler } from './http/errors';
import { ANONYMOUS_BODY_BYTES, authBeforeBody, verifiedViewerOf } from './http/auth-before-body';
import { BodyBudget, bodyBudget, DEFAULT_MAX_BODY_BYTES_IN_FLIGHT, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, limitConnectionsPerAddress } from './http/body-guards';
import { healthRoutes } from './http/health.routes';
import { clientErrorHandler, frameworkErrorHandler, loggerOptions, requestGuards, requestId } from './http/request-guards';
import { securityHeaders } from './http/security-headers';
import { legacyRoutes } from './legacy/legacy.routes';
import { graphqlMetricsPlugin } from './metrics/graphql-metrics.plugin';
import { MeteredLoginThrottle } from './metrics/metered-login-throttle';
import { Metrics } from './metrics/metrics';
import { metricsRoutes, poolStats } from './metrics/metrics.routes';
import { AuthService } from './modules/auth/auth.service';
import { LoginThrottle, type LoginThrottleOptions } from './modules/auth/login-throttle';
import { PasswordHasher, SCRYPT_PARAMS, type ScryptParams } from './modules/auth/password';
import { PostgresThrottleStore, type ThrottleStore } from './modules/auth/throttle-store';
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
import { createLiveUpdates, type LiveLimits, type LiveUpdates } from './realtime/live-updates';
import { sseRoutes } from './realtime/sse.routes';
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

/** The multipart limits (registered below): files, text fields, and room for the parts' headers. */
const MULTIPART_LIMITS = { fileSize: MAX_IMAGE_BYTES, files: MAX_IMAGES_PER_TICKET, fields: 50, fieldSize: 1024 * 1024, parts: 100 };
/** The most a multipart body can carry within {@link MULTIPART_LIMITS}: what a chunked one is charged. */
const MAX_MULTIPART_BYTES = MULTIPART_LIMITS.files * MULTIPART_LIMITS.fileSize + MULTIPART_LIMITS.fields * MULTIPART_LIMITS.fieldSize + 1024 * 1024;

export interface AppOptions {
  /** Every SQL statement, for tests that count them. */
  onQuery?: (sql: string) => void;
  /** Replaces the pino logger settings (tests pass false); redaction applies whatever the level. */
  logger?: boolean | { level: string };
  /** Where log lines go instead of stdout (tests capture them). */
  logStream?: { write(line: string): void };
  /** Failed-login limits instead of SPEC's (tests that fail logins on purpose by the hundred). */
  loginThrottle?: LoginThrottleOptions;
  /**
   * TESTS ONLY: scrypt parameters for new password hashes instead of OWASP's
   * (`SCRYPT_PARAMS`), so suites that create users by the dozen stay fast. No setting reads it:
   * a deployment always hashes at full strength.
   */
  testOnlyScryptParams?: ScryptParams;
  /** Live-update limits below production's (tests that overflow them on purpose). */
  live?: LiveLimits;
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
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    onQuery: options.onQuery,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    acquireTimeoutMs: config.databaseAcquireTimeoutMs,
  });
  const { orm } = database;
  const fork = () => orm.em.fork();
  // Metrics are kept only when they can be read (METRICS_TOKEN): otherwise nothing is counted.
  const metrics = config.metricsToken ? new Metrics() : undefined;

  const live = await createLiveUpdates(config, database, options.live, metrics).catch(async (error: unknown) => {
    await database.close();
    throw error;
  });
  const changes: ChangeSink = live.changes;
  const configuredParams = config.passwordScryptLog2N === undefined ? undefined : { ...SCRYPT_PARAMS, N: 2 ** config.passwordScryptLog2N };
  const hasher = new PasswordHasher({ params: options.testOnlyScryptParams ?? configuredParams });
  const users = new UserService(hasher);
  // Several processes can share a PostgreSQL server: their failed-login limits must be one. The
  // embedded database has one process, so memory is enough there.
  const throttleStore: ThrottleStore | undefined = config.databaseUrl
    ? new PostgresThrottleStore((sql, params) => orm.em.fork().getConnection().execute(sql, params, 'all'))
    : undefined;
  const images = new ImageService();
  const tickets = new TicketService(images, changes);
  const core = {
    auth: new AuthService({
      key: config.credentialKey,
      users: users.lookup(fork),
      throttle: metrics
        ? new MeteredLoginThrottle({ ...options.loginThrottle, store: throttleStore }, metrics)
        : new LoginThrottle({ ...options.loginThrottle, store: throttleStore }),
      hasher,
    }),
    users,
    images,
    tickets,
    replies: new ReplyService(tickets, { maxRepliesPerTicket: config.maxRepliesPerTicket }),
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
    // TRUST_PROXY: behind a proxy, request.ip comes from X-Forwarded-For; the throttle keys failed
    // logins by it (graphql-ws upgrades use the same rule, http/client-address.ts).
    trustProxy: fastifyTrustProxy(config.trustProxy),
    // Slow clients: headers, the whole request, silence, idle keep-alive (config.ts).
    http: { headersTimeout: timeouts.headersTimeoutMs, connectionsCheckingInterval: Math.min(1_000, timeouts.headersTimeoutMs) },
    requestTimeout: timeouts.requestTimeoutMs,
    connectionTimeout: timeouts.idleTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    frameworkErrors: frameworkErrorHandler({ https }),
    clientErrorHandler: clientErrorHandler({ https }),
  });
  server.setErrorHandler(httpErrorHandler);
  if (hasher.params.N < SCRYPT_PARAMS.N) {
    server.log.warn({ scryptN: hasher.params.N }, 'Password hashes use scrypt N below OWASP guidance (2^17): PASSWORD_SCRYPT_LOG2_N is for test environments');
  }
  securityHeaders(server, { https, landingPage: config.graphqlLandingPage ?? false });
  requestGuards(server);
  server.addHook('onRoute', (route) => {
    if (!LARGE_BODY_ROUTES.has(route.url)) route.bodyLimit ??= MAX_SMALL_BODY_BYTES;
  });
  if (metrics && config.metricsToken) metricsRoutes(server, { metrics, token: config.metricsToken, ping: () => database.ping() });
  await server.register(fastifyMultipart, { limits: MULTIPART_LIMITS });
  // Bodies before we know who is asking (docs/hardening.md): connections per address, bytes in
  // flight, throttled addresses and /graphql credentials checked before a body is read.
  limitConnectionsPerAddress(server.server, config.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, {
    https,
    onRefused: (address) => server.log.warn({ address }, 'connection refused: too many from this address'),
  });
  authBeforeBody(server, {
    largeBodyPaths: new Set([...LARGE_BODY_ROUTES, '/uploads']),
    graphqlPath: '/graphql',
    assertAddressNotLocked: (address) => services.auth.assertAddressNotLocked(address),
    verifyAuthorization: (header, address) => viewerFromAuthorization(services, header, address),
  });
  const bodies = new BodyBudget(config.maxBodyBytesInFlight ?? DEFAULT_MAX_BODY_BYTES_IN_FLIGHT);
  bodyBudget(server, {
    budget: bodies,
    routeLimit: (request) => {
      if (request.headers['content-type']?.toLowerCase().startsWith('multipart/')) return MAX_MULTIPART_BYTES;
      if (request.routeOptions.url === '/graphql' && request.headers.authorization === undefined) return ANONYMOUS_BODY_BYTES;
      return request.routeOptions.bodyLimit ?? MAX_JSON_BODY_BYTES;
    },
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
      ...(metrics ? [graphqlMetricsPlugin(metrics)] : []),
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
      ...lazyViewer(services, authorizationFromHeader(request.headers.authorization), request.ip, verifiedViewerOf(request)),
      clientAddress: request.ip,
      userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : undefined,
      idempotencyKey: idempotencyKeyHeader(request.raw.rawHeaders),
    }),
  });
  await server.register(healthRoutes, { database });
  await server.register(imageRoutes, { services, fork, publicUrl });
  await live.attach(server, { schema, services, publicUrl });
  await server.register(sseRoutes, { live });
  metrics?.watch({ connections: () => live.sockets?.connections ?? 0, hub: () => live.hub?.stats(), pool: () => poolStats(orm) });
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
