import { getOperationAST, type DocumentNode, type ExecutionResult } from 'graphql';
import { CloseCode, handleProtocols, makeServer, type Server as GraphQLWsServer } from 'graphql-ws';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { DEFAULT_LIMITS } from '../config';
import { authenticateRequest, authorizationFromParams } from '../modules/session/authorization';
import { ErrorCode } from '../shared/errors';
import { asDomainError } from '../db/unavailable';
import { chargeOperation, LiveOperationContext, liveErrorFormatter, refusal, type LiveTransportOptions } from './live-operation';
import type { LiveSignIn, LiveSignIns } from './live-sign-ins';
import { SerialisedResult, serialisedOnce, subscribeShared } from './shared-execution';

export interface GraphQLWebSocketOptions extends LiveTransportOptions {
  /** The HTTP path upgrades are accepted on. */
  readonly path?: string;
  readonly maxSubscriptionsPerConnection?: number;
  /** Ping interval; a socket that does not answer within the same time is dropped. */
  readonly keepAliveMs?: number;
  /** Largest message a client may send (subscribe messages are small). */
  readonly maxPayloadBytes?: number;
  /** The client's address of an upgrade request (TRUST_PROXY); default the socket's peer. */
  readonly clientAddress?: (request: IncomingMessage) => string;
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

/** What this server keeps in graphql-ws's per-socket `ctx.extra`: the socket, its upgrade request and, once acknowledged, its sign-in. */
interface SocketExtra {
  readonly socket: WebSocket;
  readonly request: IncomingMessage;
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

/** What graphql-ws writes in place of a shared payload, spliced out again by {@link PayloadSplice}. */
const SHARED_PAYLOAD = '\u0000shared payload';
/** The end of a `next` message whose payload is shared: graphql-ws writes id, type, payload, in that order. */
const SHARED_TAIL = `,"payload":${JSON.stringify(SHARED_PAYLOAD)}}`;

/**
 * graphql-ws serialises every message it sends once per socket, a `next` payload included. A
 * result that many sockets share (one per event and viewer class, shared-execution.ts) is
 * serialised once instead: `onNext` hands graphql-ws the result's shared text
 * ({@link serialisedOnce}) in a {@link SplicedPayload}, which serialises as a placeholder, and
 * the socket's `send`, which graphql-ws calls with the message as soon as it is serialised,
 * splices the shared text in. The placeholder can only stand at the very end of the message
 * (after the client's id and the type), which is where `send` looks for it.
 */
class PayloadSplice {
  /** The shared text whose placeholder the message being serialised carries. */
  pending: SerialisedResult | undefined;

  /** The message as the client must receive it: the shared payload, if any, in place of its placeholder. */
  complete(message: string): string {
    const shared = this.pending;
    if (!shared) return message;
    this.pending = undefined;
    if (!message.endsWith(SHARED_TAIL)) throw new Error('a shared payload was serialised into an unexpected message');
    return `${message.slice(0, message.length - SHARED_TAIL.length)},"payload":${shared.json}}`;
  }
}

/** A `next` payload whose text is shared: serialises as the placeholder and tells the splice which text goes there. */
class SplicedPayload {
  constructor(
    private readonly splice: PayloadSplice,
    private readonly shared: SerialisedResult,
  ) {}

  toJSON(key: string): string {
    if (key !== 'payload' || this.splice.pending) throw new Error('a shared payload outside of a next message');
    this.splice.pending = this.shared;
    return SHARED_PAYLOAD;
  }
}

/**
 * One socket's sends. graphql-ws awaits each send before it takes the subscription's next event,
 * and that wait is what keeps a slow consumer's events in its subscription's queue (bounded
 * there, `maxBacklog`, and cut off past it) instead of in this process's socket buffers. A
 * message the kernel took at once leaves nothing to wait for, and the send returns nothing
 * (no promise, no callback to wait for: the common case, once per socket and event); one that
 * left data buffered (the client does not read fast enough) returns a promise settled once
 * everything written so far has been taken, or rejected with the write's error.
 */
class SocketWrites {
  private unfinished = 0;
  private waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> | undefined;
  private failure: Error | undefined;

  constructor(private readonly socket: WebSocket) {}

  send(message: string): Promise<void> | undefined {
    const { socket } = this;
    if (socket.readyState !== socket.OPEN) return undefined;
    this.unfinished++;
    socket.send(message, this.written);
    if (socket.bufferedAmount === 0) return undefined;
    return new Promise<void>((resolve, reject) => (this.waiters ??= []).push({ resolve, reject }));
  }

  private readonly written = (error?: Error): void => {
    this.unfinished--;
    if (error) this.failure ??= error;
    if (this.unfinished > 0) return;
    const { waiters, failure } = this;
    this.waiters = undefined;
    this.failure = undefined;
    if (!waiters) return;
    for (const waiter of waiters) {
      if (failure) waiter.reject(failure);
      else waiter.resolve();
    }
  };
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
  private readonly server: GraphQLWsServer<SocketExtra>;
  private readonly path: string;
  private readonly keepAliveMs: number;
  /** The open sockets' (and streams') sign-ins by user id: what a change to a user must reach. */
  private readonly signIns: LiveSignIns;
  private accepting = true;
  private readonly logger: GraphQLWebSocketOptions['logger'];
  private readonly splice = new PayloadSplice();

  constructor(
    private readonly httpServer: HttpServer,
    options: GraphQLWebSocketOptions,
  ) {
    this.path = options.path ?? '/graphql';
    this.keepAliveMs = options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
    this.logger = options.logger;
    this.signIns = options.signIns;
    const maxSubscriptions = options.maxSubscriptionsPerConnection ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION;
    const maxSocketsPerUser = options.maxConnectionsPerUser ?? DEFAULT_LIMITS.maxSocketsPerUser;
    const format = liveErrorFormatter(options.logger);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES, handleProtocols });
    httpServer.on('upgrade', this.onUpgrade);

    this.server = makeServer<Record<string, unknown>, SocketExtra>({
      schema: options.schema,
      subscribe: subscribeShared,
      onConnect: async (ctx) => {
        const authorization = authorizationFromParams(ctx.connectionParams);
        if (!authorization) return false;
        const socket = ctx.extra.socket;
        // Changes to users arriving from here on reach this socket even if the check below read the user before them.
        const since = this.signIns.mark();
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
        if (this.signIns.countOf(signIn.viewer.id) >= maxSocketsPerUser) {
          socket.close(CLOSE_TOO_MANY_SOCKETS, `Too many open connections for this user (at most ${maxSocketsPerUser}): close one first`);
          return false;
        }
        if (socket.readyState !== socket.OPEN) return false;
        ctx.extra.signIn = signIn;
        this.track(signIn, since);
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
        const document = options.documents.get(options.schema, payload.query);
        if (!('kind' in document)) return document;
        shareQueryText(payload, document);
        const args = { schema: options.schema, document, operationName: payload.operationName, variableValues: payload.variables };
        const { signIn } = ctx.extra;
        const operation = getOperationAST(document, payload.operationName);
        if (!options.rateLimiter || !signIn || !operation) return args;
        return chargeOperation(options.rateLimiter, signIn.viewer.id, { schema: options.schema, document, operation }, 'websocket').then((refused) =>
          refused ? [refused] : args,
        );
      },
      context: (ctx) => {
        const { signIn } = ctx.extra;
        if (!signIn) throw new Error('graphql-ws ran an operation on an unauthenticated socket');
        return new LiveOperationContext(options, signIn);
      },
      // A result without errors is the one every socket of its viewer class sends: serialised once.
      // A result without `data` is a request error (variables that do not coerce): the client's.
      onNext: (_ctx, _id, _payload, _args, result) => {
        const { errors } = result;
        // graphql-ws only checks that the payload is an object; `send` splices the text in.
        if (!errors) return new SplicedPayload(this.splice, serialisedOnce(result)) as unknown as ExecutionResult;
        const ownCode = 'data' in result ? undefined : 'BAD_USER_INPUT';
        return { ...result, errors: errors.map((error) => format(error, ownCode)) };
      },
      // Errors before execution: the document does not validate, or names no operation.
      onError: (_ctx, _id, _payload, errors) => errors.map((error) => format(error, 'GRAPHQL_VALIDATION_FAILED')),
    });
  }

  /** Open sockets. */
  get connections(): number {
    return this.wss.clients.size;
  }

  /** Acknowledged sockets and streams of one user in this process. */
  socketsOf(userId: number): number {
    return this.signIns.countOf(userId);
  }

  private track(signIn: SocketSignIn, since: number): void {
    signIn.socket.once('close', () => this.signIns.untrack(signIn));
    this.signIns.track(signIn, since);
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
    this.wss.handleUpgrade(request, socket, head, (ws) => this.serve(ws, request));
  };

  /**
   * Runs graphql-ws's protocol on one upgraded socket (what graphql-ws's `useServer` does for ws,
   * written here so that this server, not the library, decides what a socket error means).
   */
  private serve(socket: WebSocket, request: IncomingMessage): void {
    // A socket's errors are the client's: a frame over maxPayload (ws closes with 1009), a
    // malformed frame (1002), invalid UTF-8 (1007). ws has closed the socket with the right code
    // already; the server logs a warning, not an error with a stack.
    socket.on('error', (error: Error & { code?: string }) => {
      (this.logger.warn ?? this.logger.error).call(this.logger, { err: { code: error.code, message: error.message } }, 'WebSocket client error; socket closed');
      if (socket.readyState === socket.OPEN) socket.close(1011, 'Internal server error');
    });
    const stopKeepAlive = keepAlive(socket, this.keepAliveMs);
    const writes = new SocketWrites(socket);
    const closed = this.server.opened(
      {
        protocol: socket.protocol,
        send: (data) => writes.send(this.splice.complete(data)),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', async (data) => {
            try {
              await handle(String(data));
            } catch (error) {
              // A message only a server may send (next, error, connection_ack) is well formed, so
              // graphql-ws parses it, then throws: the client broke the protocol, as for any
              // other message it may not send (4400), and nothing of ours failed.
              if (error instanceof Error && UNEXPECTED_MESSAGE.test(error.message)) {
                socket.close(CloseCode.BadRequest, error.message);
                return;
              }
              // A bug of ours (a hook that threw): logged, and the client told no more than that.
              this.logger.error({ err: error }, 'graphql-ws message handling failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            }
          }),
      },
      { socket, request },
    );
    socket.once('close', (code, reason) => {
      stopKeepAlive();
      closed(code, String(reason)).catch((error: unknown) => this.logger.error({ err: error }, 'graphql-ws socket clean-up failed'));
    });
  }
}

/** graphql-ws's error for a message of a type that only a server sends (its type is one of the protocol's). */
const UNEXPECTED_MESSAGE = /^Unexpected message of type \w+ received$/;

/**
 * Pings `socket` every `intervalMs` and drops it when the previous ping went unanswered, so a
 * socket whose client vanished without a close goes within two intervals. Returns the stop.
 */
function keepAlive(socket: WebSocket, intervalMs: number): () => void {
  if (!(intervalMs > 0 && Number.isFinite(intervalMs))) return () => undefined;
  let answered = true;
  socket.on('pong', () => (answered = true));
  const timer = setInterval(() => {
    if (socket.readyState !== socket.OPEN) return;
    if (!answered) return socket.terminate();
    answered = false;
    socket.ping();
  }, intervalMs);
  return () => clearInterval(timer);
}
