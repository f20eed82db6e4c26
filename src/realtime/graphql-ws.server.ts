import type { EntityManager } from '@mikro-orm/core';
import { getOperationAST, type DocumentNode, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { DEFAULT_LIMITS } from '../config';
import { DocumentCache } from '../graphql/document-cache';
import { graphQLValidation, type GraphQLValidation } from '../graphql/query-limits';
import { operationPoints } from '../graphql/rate-cost';
import type { TicketEventFeed } from '../modules/event/ticket-event.feed';
import { budgetSpent, type RateLimiter } from '../modules/ratelimit/rate-limiter';
import { authenticateRequest, authorizationFromParams } from '../modules/session/authorization';
import type { Services } from '../services';
import { ErrorCode } from '../shared/errors';
import { asDomainError } from '../db/unavailable';
import { LiveOperationContext, liveErrorFormatter, refusal, refusalOf } from './live-operation';
import { LiveSignIns, type LiveSignIn } from './live-sign-ins';
import { subscribeShared } from './shared-execution';

export interface GraphQLWebSocketOptions {
  readonly schema: GraphQLSchema;
  readonly services: Services;
  readonly feed: TicketEventFeed;
  readonly fork: () => EntityManager;
  readonly publicUrl: () => string;
  readonly logger: { error(object: object, message: string): void; warn?(object: object, message: string): void };
  /** The limits HTTP applies too (query-limits.ts); default: with introspection. */
  readonly validation?: GraphQLValidation;
  /** The HTTP path upgrades are accepted on. */
  readonly path?: string;
  readonly maxSubscriptionsPerConnection?: number;
  /** Ping interval; a socket that does not answer within the same time is dropped. */
  readonly keepAliveMs?: number;
  /** Largest message a client may send (subscribe messages are small). */
  readonly maxPayloadBytes?: number;
  /** The client's address of an upgrade request (TRUST_PROXY); default the socket's peer. */
  readonly clientAddress?: (request: IncomingMessage) => string;
  /** Acknowledged sockets (and graphql-sse streams, counted together) one user may hold at once in this process. */
  readonly maxSocketsPerUser?: number;
  /** The sign-ins of this process's sockets and streams (live-sign-ins.ts); default: a registry of its own. */
  readonly signIns?: LiveSignIns;
  /** Parsed documents, shared with the graphql-sse transport; default: a cache of its own. */
  readonly documents?: DocumentCache;
  /**
   * Request budgets (RATE_LIMIT_POINTS): each operation started on a socket (a subscription
   * counts once, when it starts; its events are free) is charged like the same operation over
   * HTTP (graphql/rate-cost.ts), before it runs.
   */
  readonly rateLimiter?: RateLimiter;
}

/** Operations one socket may run at once (a dashboard needs a few; this bounds a misbehaving client). */
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION = 25;
const DEFAULT_KEEP_ALIVE_MS = 12_000;
const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024;
/** After the 1001 close frame, how long a socket gets to answer before it is dropped. */
const CLOSE_GRACE_MS = 2_000;

/** graphql-ws close code for "going away" on shutdown (RFC 6455). */
export const CLOSE_GOING_AWAY = 1001;
/** graphql-ws's Forbidden: the socket's sign-in no longer holds (revoked, expired, deactivated). */
export const CLOSE_FORBIDDEN = 4403;

/** Who an acknowledged socket is signed in as (live-sign-ins.ts). */
export interface SocketSignIn extends LiveSignIn {
  readonly socket: WebSocket;
}

/** What this server keeps in graphql-ws's per-socket `ctx.extra`: the sign-in, once acknowledged. */
interface SocketExtra extends Record<PropertyKey, unknown> {
  signIn?: SocketSignIn;
}

/**
 * The user already holds as many sockets as allowed. In graphql-ws's range of "do not retry"
 * codes (its client gives up on 4429 rather than reconnecting in a loop): close another socket
 * first.
 */
export const CLOSE_TOO_MANY_SOCKETS = 4429;

/**
 * The credential could not be checked because the database is unavailable. 4503 tells the client
 * to retry (graphql-ws's client retries every 4xxx code it does not know as fatal), where 4403
 * would tell it that its credential is wrong.
 */
export const CLOSE_UNAVAILABLE = 4503;

function clientAddress(request: IncomingMessage): string {
  return request.socket.remoteAddress ?? 'unknown';
}

/**
 * After the sign-in, drops what graphql-ws would otherwise hold per socket for as long as it is
 * open: the connection parameters (the credential or token) and the upgrade request (its headers).
 */
function forgetAfterSignIn(ctx: { connectionParams?: unknown; extra: object }): void {
  (ctx as { connectionParams?: unknown }).connectionParams = undefined;
  (ctx.extra as { request?: unknown }).request = undefined;
}

/**
 * graphql-ws keeps each subscribe message for the subscription's lifetime: its query text is
 * replaced by the cached document's own copy, so thousands of dashboards keep one, not one each.
 */
function shareQueryText(payload: { readonly query: string }, document: DocumentNode): void {
  const shared = document.loc?.source.body;
  if (shared === payload.query) (payload as { query: string }).query = shared;
}

function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * graphql-ws on the HTTP server's own port and path: GET /graphql with an Upgrade header goes
 * here, every other request stays with Fastify (Apollo keeps GET and POST /graphql).
 *
 * - The credential travels in `connectionParams.credential`, a sign-in token in
 *   `connectionParams.token`; without a valid one the socket is closed with 4403 Forbidden before
 *   any operation runs (graphql-ws refuses operations before the acknowledgement with 4401). A
 *   socket whose sign-in stops holding later (session revoked or expired, user deactivated,
 *   password changed) is closed with 4403 too (`LiveSignIns.closeSignIns`).
 * - Keep-alive pings every `keepAliveMs`; at most `maxSubscriptionsPerConnection` operations at
 *   once per socket; errors carry `extensions.code` like the HTTP transport's.
 */
export class GraphQLWebSocketServer {
  private readonly wss: WebSocketServer;
  private readonly path: string;
  /** The open sockets' (and streams') sign-ins by user id: what a change to a user must reach. */
  readonly signInRegistry: LiveSignIns;
  private accepting = true;
  private readonly logger: GraphQLWebSocketOptions['logger'];

  constructor(
    private readonly httpServer: HttpServer,
    options: GraphQLWebSocketOptions,
  ) {
    const path = options.path ?? '/graphql';
    this.logger = options.logger;
    this.signInRegistry = options.signIns ?? new LiveSignIns();
    const maxSubscriptions = options.maxSubscriptionsPerConnection ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION;
    const maxSocketsPerUser = options.maxSocketsPerUser ?? DEFAULT_LIMITS.maxSocketsPerUser;
    const format = liveErrorFormatter(options.logger);
    const documents = options.documents ?? new DocumentCache(options.validation ?? graphQLValidation({ introspection: true }));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES });
    httpServer.on('upgrade', this.onUpgrade);
    this.path = path;

    useServer<Record<string, unknown>, SocketExtra>(
      {
        schema: options.schema,
        subscribe: subscribeShared,
        // Internal errors close sockets with a generic reason, never their message.
        isProd: true,
        onConnect: async (ctx) => {
          const authorization = authorizationFromParams(ctx.connectionParams);
          if (!authorization) return false;
          const socket = ctx.extra.socket;
          let signIn: SocketSignIn;
          try {
            const { viewer, sessionId, expiresAt } = await authenticateRequest(
              options.services,
              authorization,
              (options.clientAddress ?? clientAddress)(ctx.extra.request),
            );
            signIn = {
              viewer,
              sessionId,
              expiresAt,
              socket,
              transport: 'socket',
              end: (reason) => {
                if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(CLOSE_FORBIDDEN, reason);
              },
            };
          } catch (error) {
            // The database could not be asked: say "retry", not "your credential is wrong". A
            // socket closed here keeps this code; graphql-ws's own 4403 then changes nothing.
            if (asDomainError(error)?.code === ErrorCode.UNAVAILABLE) {
              socket.close(CLOSE_UNAVAILABLE, 'The service is temporarily unavailable, retry shortly');
            }
            // Any other failure (malformed, wrong, throttled) is the same refusal: no user enumeration.
            return false;
          }
          // Counted synchronously after the check: two sockets of one user cannot both pass it.
          if (this.signInRegistry.countOf(signIn.viewer.id) >= maxSocketsPerUser) {
            socket.close(CLOSE_TOO_MANY_SOCKETS, `Too many open connections for this user (at most ${maxSocketsPerUser}): close one first`);
            return false;
          }
          if (socket.readyState !== socket.OPEN) return false;
          ctx.extra.signIn = signIn;
          this.track(signIn);
          // Memory: graphql-ws keeps both for the socket's lifetime, and nothing reads them after
          // the sign-in (the credential need not linger either). ~2 KiB per socket.
          forgetAfterSignIn(ctx);
          return true;
        },
        onSubscribe: (ctx, _id, payload) => {
          if (!this.accepting) return [refusal(ErrorCode.UNAVAILABLE, 'The server is shutting down')];
          // graphql-ws has already counted this operation in ctx.subscriptions.
          if (Object.keys(ctx.subscriptions).length > maxSubscriptions) {
            return [refusal(ErrorCode.TOO_MANY_REQUESTS, `At most ${maxSubscriptions} operations at once per connection`)];
          }
          // Parsed and validated here (once per distinct query), so graphql-ws does neither.
          const document = documents.get(options.schema, payload.query);
          if (!('kind' in document)) return document;
          shareQueryText(payload, document);
          const args = { schema: options.schema, document, operationName: payload.operationName, variableValues: payload.variables };
          const { signIn } = ctx.extra;
          const operation = getOperationAST(document, payload.operationName);
          if (!options.rateLimiter || !signIn || !operation) return args;
          return options.rateLimiter.take({ userId: signIn.viewer.id }, operationPoints(options.schema, document, operation), 'websocket').then(
            (budget) => (budget.admitted ? args : [refusalOf(budgetSpent(budget))]),
            (error: unknown) => {
              const domain = asDomainError(error);
              if (!domain) throw error;
              return [refusalOf(domain)];
            },
          );
        },
        context: (ctx) => {
          const { signIn } = ctx.extra;
          if (!signIn) throw new Error('graphql-ws ran an operation on an unauthenticated socket');
          return new LiveOperationContext(options.fork, options.services, options.publicUrl(), options.feed, signIn);
        },
        // A result without `data` is a request error (variables that do not coerce): the client's.
        onNext: (_ctx, _id, _payload, _args, result) => {
          const { errors } = result;
          if (!errors) return undefined;
          const ownCode = 'data' in result ? undefined : 'BAD_USER_INPUT';
          return { ...result, errors: errors.map((error) => format(error, ownCode)) };
        },
        // Errors before execution: the document does not validate, or names no operation.
        onError: (_ctx, _id, _payload, errors) => errors.map((error) => format(error, 'GRAPHQL_VALIDATION_FAILED')),
      },
      this.wss,
      options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS,
    );
  }

  /** Open sockets. */
  get connections(): number {
    return this.wss.clients.size;
  }

  /** Acknowledged sockets and streams of one user in this process. */
  socketsOf(userId: number): number {
    return this.signInRegistry.countOf(userId);
  }

  private track(signIn: SocketSignIn): void {
    this.signInRegistry.track(signIn);
    signIn.socket.once('close', () => this.signInRegistry.untrack(signIn));
  }

  /** New upgrades are refused with 503, new operations with SERVICE_UNAVAILABLE. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Closes every socket with 1001 (going away) and resolves when they are gone. */
  async close(): Promise<void> {
    this.stopAccepting();
    const sockets = [...this.wss.clients];
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((resolve) => {
            if (socket.readyState === socket.CLOSED) return resolve();
            const timer = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
            socket.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            socket.close(CLOSE_GOING_AWAY, 'Server shutting down');
          }),
      ),
    );
    this.httpServer.off('upgrade', this.onUpgrade);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private readonly onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const pathname = (request.url ?? '/').split('?')[0];
    if (pathname !== this.path) return refuseUpgrade(socket, 404, 'Not Found');
    if (!this.accepting) return refuseUpgrade(socket, 503, 'Service Unavailable');
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      this.wss.emit('connection', ws, request);
      warnOnSocketErrors(ws, this.logger);
    });
  };
}

/**
 * graphql-ws prints any socket error to console.error with a stack ("Internal error emitted on a
 * WebSocket socket"). They are the client's: a frame over maxPayload (ws closes with 1009), a
 * malformed frame (1002), invalid UTF-8 (1007). ws has closed the socket with the right code
 * already, so its listener is replaced by a warning in the server's log. A function of its own so
 * the listener, which lives as long as the socket, does not keep the upgrade request alive.
 */
function warnOnSocketErrors(ws: WebSocket, logger: GraphQLWebSocketOptions['logger']): void {
  ws.removeAllListeners('error');
  ws.on('error', (error: Error & { code?: string }) => {
    (logger.warn ?? logger.error).call(logger, { err: { code: error.code, message: error.message } }, 'WebSocket client error; socket closed');
    if (ws.readyState === ws.OPEN) ws.close(1011, 'Internal server error');
  });
}
