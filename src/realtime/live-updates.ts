import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { AppConfig } from '../config';
import { clientAddressResolver } from '../http/client-address';
import type { Database } from '../db/database';
import { execute } from '../db/sql';
import { graphQLValidationFor } from '../graphql/query-limits';
import { EventLog } from '../modules/event/event-log';
import type { ChangeSink } from '../modules/event/ticket-change';
import type { UserChangeSink } from '../modules/user/user-change';
import type { Services } from '../services';
import type { BusLogger, EventBus } from './event-bus';
import { EventLogSink } from './event-log.sink';
import { LocalWrites } from './local-writes';
import { TicketEventHub } from './event-hub';
import { GraphQLStreamServer, STREAM_PATH } from './graphql-sse.server';
import { GraphQLWebSocketServer } from './graphql-ws.server';
import { InProcessEventBus } from './in-process.event-bus';
import { DocumentCache } from '../graphql/document-cache';
import type { LiveTransportOptions } from './live-operation';
import { LiveSignIns } from './live-sign-ins';
import { PostgresEventBus } from './postgres.event-bus';
import { RedisEventBus } from './redis.event-bus';
import type { LiveObserver } from '../metrics/observers';
import { UserChangeBusSink, UserChangeFanOut } from './user-changes';
import type { RateLimiter } from '../modules/ratelimit/rate-limiter';

/** How often a hub on a shared database reads the log without a note (bounds a lost note). */
const SHARED_POLL_INTERVAL_MS = 2_000;
/** Shutdown: longest wait for in-flight HTTP requests, then for their events to be delivered. */
const DRAIN_TIMEOUT_MS = 10_000;
const SETTLE_TIMEOUT_MS = 5_000;

type Logger = BusLogger & { error(object: object, message: string): void };

const SILENT: Logger = { warn: () => undefined, info: () => undefined, error: () => undefined };

/** Live updates of one server process: the change sink, the bus, the hub and the WebSocket server. */
export interface LiveUpdates {
  /** What TicketService records changes into. */
  readonly changes: ChangeSink;
  /** What the user services report changes to users into (sessions, lifecycle). */
  readonly userChanges: UserChangeSink;
  readonly bus: EventBus;
  /** Set by `attach`. */
  readonly hub: TicketEventHub | undefined;
  readonly sockets: GraphQLWebSocketServer | undefined;
  /** GraphQL over SSE (set by `attach`; its routes are sse.routes.ts). */
  readonly streams: GraphQLStreamServer | undefined;
  /** The sign-ins of open sockets and streams, by user. */
  readonly signIns: LiveSignIns;
  /** Starts the hub and serves graphql-ws on the server's /graphql (and builds the SSE server). */
  attach(server: FastifyInstance, options: { schema: GraphQLSchema; services: Services; publicUrl: () => string; rateLimiter?: RateLimiter }): Promise<void>;
  /**
   * Shuts down in order: stop accepting sockets, streams and operations, `closeHttp` (Fastify
   * stops listening and finishes in-flight requests), deliver what those requests committed, close
   * the sockets with 1001 and end the streams, and only then release the bus.
   */
  close(closeHttp: () => Promise<void>): Promise<void>;
}

/** The bus the configuration asks for: Redis if REDIS_URL, else PostgreSQL if DATABASE_URL, else in-process. */
async function createBus(config: AppConfig, database: Database, logger: Logger): Promise<EventBus> {
  if (config.redisUrl) {
    // One channel per database: servers of different databases may share a Redis.
    const name =
      database.kind === 'postgres'
        ? String((await execute<Array<{ name: string }>>(database.orm.em.fork(), 'select current_database() as name'))[0].name)
        : `embedded-${randomUUID()}`;
    return new RedisEventBus(config.redisUrl, `helpdesk:ticket-events:${name}`, logger);
  }
  if (config.databaseUrl) return new PostgresEventBus(config.databaseUrl, logger);
  return new InProcessEventBus();
}

/**
 * Builds the live-update machinery for `createApp`. Fails (after releasing what it opened) when
 * the configured bus cannot be reached: a server that would silently not deliver events to other
 * processes should not start.
 */
/** Limits tests set lower than production's (AppOptions.live). */
export interface LiveLimits {
  /** Live events one subscription holds while it replays (event-hub.ts). */
  readonly maxHeldDuringReplay?: number;
  /** Undelivered events a subscriber may fall behind by before it is cut off (event-hub.ts; 1,000). */
  readonly maxBacklog?: number;
}

export async function createLiveUpdates(config: AppConfig, database: Database, limits: LiveLimits = {}, observer?: LiveObserver): Promise<LiveUpdates> {
  let logger: Logger = SILENT;
  const forwardingLogger: Logger = {
    warn: (object, message) => logger.warn(object, message),
    info: (object, message) => logger.info(object, message),
    error: (object, message) => logger.error(object, message),
  };
  const bus = await createBus(config, database, forwardingLogger);
  try {
    await bus.ready();
  } catch (error) {
    await bus.close();
    throw error;
  }
  const log = new EventLog();
  const fork = () => database.orm.em.fork();
  // This process's writes between appending their event and publishing it: the hub waits for them.
  const localWrites = new LocalWrites();

  let hub: TicketEventHub | undefined;
  let sockets: GraphQLWebSocketServer | undefined;
  let streams: GraphQLStreamServer | undefined;
  const signIns = new LiveSignIns();
  let userChanges: UserChangeFanOut | undefined;
  let server: FastifyInstance | undefined;
  let inFlight = 0;
  let idle: Array<() => void> = [];

  return {
    changes: new EventLogSink(log, bus, observer, localWrites),
    userChanges: new UserChangeBusSink(bus),
    bus,
    get hub() {
      return hub;
    },
    get sockets() {
      return sockets;
    },
    get streams() {
      return streams;
    },
    signIns,

    async attach(fastify, { schema, services, publicUrl, rateLimiter }) {
      server = fastify;
      logger = fastify.log;
      hub = new TicketEventHub({
        fork,
        log,
        reader: services.reader,
        bus,
        localWrites,
        logger: forwardingLogger,
        pollIntervalMs: bus.kind === 'in-process' ? 0 : SHARED_POLL_INTERVAL_MS,
        maxHeldDuringReplay: limits.maxHeldDuringReplay,
        maxBacklog: limits.maxBacklog,
        observer,
      });
      await hub.start();
      // Both transports run operations alike: one document cache (the limits Apollo applies on
      // HTTP, query-limits.ts) and one sign-in registry (a user's sockets and streams counted and
      // closed together).
      const transport: LiveTransportOptions = {
        schema,
        services,
        feed: hub,
        fork,
        publicUrl,
        logger: forwardingLogger,
        documents: new DocumentCache(graphQLValidationFor(config)),
        signIns,
        maxConnectionsPerUser: config.maxSocketsPerUser,
        rateLimiter,
      };
      sockets = new GraphQLWebSocketServer(fastify.server, { ...transport, clientAddress: clientAddressResolver(config.trustProxy) });
      streams = new GraphQLStreamServer(transport);
      // Changes to users from any process: caches, open sockets and live subscriptions follow.
      userChanges = new UserChangeFanOut({ services, sockets: signIns, hub, fork, logger: forwardingLogger });
      bus.listenUserChanges(userChanges.onChange);
      // Counts HTTP requests in flight at the transport, so shutdown knows when they are done.
      fastify.server.on('request', (request, response) => {
        // An SSE stream is not a request to wait for: shutdown ends it after the others.
        if ((request.url ?? '').split('?')[0] === STREAM_PATH) return;
        inFlight++;
        response.once('close', () => {
          inFlight--;
          if (inFlight === 0) for (const wake of idle.splice(0)) wake();
        });
      });
    },

    async close(closeHttp) {
      sockets?.stopAccepting();
      streams?.stopAccepting();
      const httpClosed = closeHttp();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, DRAIN_TIMEOUT_MS);
          timer.unref();
          idle.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      // Keep-alive connections that were busy when closing began are idle now; without this the
      // HTTP server would wait for their keep-alive timeout.
      server?.server.closeIdleConnections();
      await hub?.settle(SETTLE_TIMEOUT_MS);
      await Promise.all([sockets?.close(), streams?.close()]);
      await httpClosed;
      hub?.close();
      userChanges?.close();
      await bus.close();
      idle = [];
    },
  };
}
