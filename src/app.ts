import fastifyMultipart from '@fastify/multipart';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { DEFAULT_HTTP_TIMEOUTS, DEFAULT_RATE_LIMIT, type AppConfig } from './config';
import { openDatabase, type Database } from './db/database';
import { poolStats, standaloneRunner } from './db/sql';
import { viewerFromAuthorization } from './graphql/context';
import { graphQLValidationFor } from './graphql/query-limits';
import { rateLimitPlugin } from './graphql/rate-limit.plugin';
import { buildGraphQLSchema } from './graphql/schema';
import { ANONYMOUS_BODY_BYTES, authBeforeBody } from './http/auth-before-body';
import { BodyBudget, bodyBudget, DEFAULT_MAX_BODY_BYTES_IN_FLIGHT, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, limitConnectionsPerAddress } from './http/body-guards';
import { fastifyTrustProxy } from './http/client-address';
import { httpErrorHandler } from './http/errors';
import { jsonRequestBodies } from './http/json-request-body';
import { graphqlRoutes } from './http/graphql.routes';
import { boardRoutes } from './http/board.routes';
import { healthRoutes } from './http/health.routes';
import { imageRoutes } from './http/image.routes';
import { loggerOptions } from './http/logging';
import { clientErrorHandler, frameworkErrorHandler, requestGuards, requestId } from './http/request-guards';
import { MAX_JSON_BODY_BYTES, MAX_MULTIPART_BYTES, MULTIPART_LIMITS, smallBodiesByDefault } from './http/route-config';
import { securityHeaders } from './http/security-headers';
import { legacyRoutes } from './legacy/legacy.routes';
import { graphqlMetricsPlugin } from './metrics/graphql-metrics.plugin';
import { Metrics } from './metrics/metrics';
import { metricsRoutes } from './metrics/metrics.routes';
import type { LoginThrottleOptions } from './modules/auth/login-throttle';
import { SCRYPT_PARAMS, type ScryptParams } from './modules/auth/password';
import { MemoryBudgetStore, PostgresBudgetStore } from './modules/ratelimit/budget-store';
import { RateLimiter } from './modules/ratelimit/rate-limiter';
import { createLiveUpdates, type LiveLimits, type LiveUpdates } from './realtime/live-updates';
import { sseRoutes } from './realtime/sse.routes';
import { createServices, type Services } from './services';

export interface AppOptions {
  /** Every SQL statement, for tests that count them. */
  onQuery?: (sql: string) => void;
  /** Replaces the pino logger settings (tests pass false); redaction applies whatever the level. */
  logger?: boolean | { level: string };
  /** Where log lines go instead of stdout (tests capture them). */
  logStream?: { write(line: string): void };
  /** Failed-login limits instead of the contract's (tests that fail logins on purpose by the hundred). */
  loginThrottle?: LoginThrottleOptions;
  /**
   * TESTS ONLY: scrypt parameters for new password hashes instead of OWASP's
   * (`SCRYPT_PARAMS`), so suites that create users by the dozen stay fast. No setting reads it:
   * a deployment always hashes at full strength.
   */
  testOnlyScryptParams?: ScryptParams;
  /**
   * TESTS ONLY: an in-memory embedded database starts as a copy of this migrated dump
   * (`dumpMigratedEmbedded`, db/database.ts) instead of a new cluster. Ignored with a dataDir or PostgreSQL.
   */
  testOnlyEmbeddedTemplate?: Blob;
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
    template: options.testOnlyEmbeddedTemplate,
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
  const services = createServices({
    config,
    orm,
    changes: live.changes,
    userChanges: live.userChanges,
    metrics,
    loginThrottle: options.loginThrottle,
    testOnlyScryptParams: options.testOnlyScryptParams,
  });
  const { users } = services;
  // Request budgets (RATE_LIMIT_POINTS): shared through the database when processes share one.
  const rateLimiter = config.rateLimitPoints
    ? new RateLimiter(
        config.databaseUrl ? new PostgresBudgetStore(standaloneRunner(orm.em)) : new MemoryBudgetStore(),
        { points: config.rateLimitPoints, windowMs: config.rateLimitWindowMs ?? DEFAULT_RATE_LIMIT.rateLimitWindowMs },
        metrics ? (transport) => metrics.rateLimited(transport) : undefined,
      )
    : undefined;

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
    logger:
      options.logger === false ? false : loggerOptions(options.logger === true || !options.logger ? config.logLevel : options.logger.level, options.logStream),
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
  jsonRequestBodies(server);
  const scryptN = services.auth.hasher.params.N;
  if (scryptN < SCRYPT_PARAMS.N) {
    server.log.warn({ scryptN }, 'Password hashes use scrypt N below OWASP guidance (2^17): PASSWORD_SCRYPT_LOG2_N is for test environments');
  }
  securityHeaders(server, { https, landingPage: config.graphqlLandingPage ?? false });
  requestGuards(server);
  // Each route declares its own body limit and guards (http/route-config.ts); the rest take small bodies.
  smallBodiesByDefault(server);
  if (metrics && config.metricsToken) metricsRoutes(server, { metrics, token: config.metricsToken, ping: () => database.ping() });
  await server.register(fastifyMultipart, { limits: MULTIPART_LIMITS });
  // Bodies before we know who is asking (docs/hardening.md): connections per address, bytes in
  // flight, throttled addresses and /graphql credentials checked before a body is read.
  limitConnectionsPerAddress(server.server, config.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, {
    https,
    onRefused: (address) => server.log.warn({ address }, 'connection refused: too many from this address'),
  });
  authBeforeBody(server, {
    assertAddressNotLocked: (address) => services.auth.assertAddressNotLocked(address),
    verifyAuthorization: (header, address) => viewerFromAuthorization(services, header, address),
  });
  const bodies = new BodyBudget(config.maxBodyBytesInFlight ?? DEFAULT_MAX_BODY_BYTES_IN_FLIGHT);
  bodyBudget(server, {
    budget: bodies,
    routeLimit: (request) => {
      if (request.headers['content-type']?.toLowerCase().startsWith('multipart/')) return MAX_MULTIPART_BYTES;
      if (request.routeOptions.config?.credentialInHeader && request.headers.authorization === undefined) return ANONYMOUS_BODY_BYTES;
      return request.routeOptions.bodyLimit ?? MAX_JSON_BODY_BYTES;
    },
  });

  let listeningUrl = '';
  const publicUrl = () => config.publicUrl ?? listeningUrl;

  const schema = await buildGraphQLSchema();
  // The same limits as graphql-ws (live-updates.ts passes them to the socket server).
  const validation = graphQLValidationFor(config);
  const graphql = await graphqlRoutes(server, {
    schema,
    services,
    fork,
    publicUrl,
    validation,
    landingPage: config.graphqlLandingPage ?? false,
    plugins: [...(rateLimiter ? [rateLimitPlugin(rateLimiter)] : []), ...(metrics ? [graphqlMetricsPlugin(metrics)] : [])],
  });
  await server.register(healthRoutes, { database });
  await server.register(imageRoutes, { services, fork, publicUrl });
  await live.attach(server, { schema, services, publicUrl, rateLimiter });
  await server.register(sseRoutes, { live });
  metrics?.watch({ connections: () => live.sockets?.connections ?? 0, hub: () => live.hub?.stats(), pool: () => poolStats(orm.em) });
  await server.register(legacyRoutes, { services, fork, publicUrl, rateLimiter });
  await server.register(boardRoutes, { publicUrl });

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
        await graphql.stop();
        await database.close();
      })();
      return closed;
    },
  };
}
