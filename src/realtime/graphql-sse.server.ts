import type { FastifyReply, FastifyRequest } from 'fastify';
import { getOperationAST, GraphQLError, type ExecutionResult, type GraphQLFormattedError } from 'graphql';
import { createHandler, isAsyncIterable, type Handler, type OperationArgs, type OperationResult } from 'graphql-sse';
import type { ServerResponse } from 'node:http';
import { DEFAULT_LIMITS } from '../config';
import { formatDomainError } from '../graphql/errors';
import { authenticateRequest, authorizationFromHeader } from '../modules/session/authorization';
import { asDomainError } from '../db/unavailable';
import { HTTP_STATUS } from '../http/http-status';
import { DomainError, ErrorCode } from '../shared/errors';
import { chargeOperation, LiveOperationContext, liveErrorFormatter, refusal, type LiveTransportOptions } from './live-operation';
import type { LiveSignIn } from './live-sign-ins';
import { subscribeShared } from './shared-execution';

/** Where GraphQL over Server-Sent Events is served (graphql-sse's conventional path). */
export const STREAM_PATH = '/graphql/stream';

/** After the server ends a stream on shutdown, how long its connection gets to go before it is destroyed. */
const CLOSE_GRACE_MS = 2_000;

/** Who an admitted stream is signed in as, and how to end it. */
interface StreamSignIn extends LiveSignIn {
  /** Set once the subscription runs: ending the sign-in ends it with an error. */
  operation?: EndableResults;
  /** Results handed to graphql-sse and not yet written to the socket (see {@link StreamPace}). */
  readonly pace: StreamPace;
  /** Why the sign-in ended before the subscription ran (then it is ended as soon as it does). */
  endedBecause?: string;
}

/** graphql-sse's per-request context: the admitted sign-in. */
interface StreamRequestContext {
  readonly signIn: StreamSignIn;
}

const done = (): IteratorResult<ExecutionResult, undefined> => ({ value: undefined, done: true });

/**
 * Results of a stream's subscription that graphql-sse may hold unwritten. graphql-sse's handler
 * pulls every result of an operation as soon as it is produced and queues its text without bound
 * (`createStream`'s `pending`), whatever the client reads; so the subscription's results are paced
 * here instead: the next one is taken from the hub only once the previous ones were handed to the
 * socket. A client that stops reading then stalls its own subscription, whose queue the hub bounds
 * (the slow-subscriber cut-off), as graphql-ws's awaited sends do on a socket
 * (test/security/slow-consumer.test.ts).
 */
const MAX_UNWRITTEN_RESULTS = 2;

/** What the stream's writer and its results share to pace one another. */
interface StreamPace {
  unwritten: number;
  /** Wakes the results waiting for the writer. */
  wake?: () => void;
}

/** The message graphql-sse writes for a result (its `print` of a `next` event). */
const isResultMessage = (message: string): boolean => message.startsWith('event: next');

/**
 * A subscription's results that the server can end with a last error: the sign-in stopped holding
 * (deactivated, session ended) or the stream failed (a subscriber fell too far behind). graphql-sse
 * then sends that error as a `next` and a `complete`, so the client stops cleanly (its default is
 * to retry a connection that just drops, which would reconnect a deactivated user in a loop).
 */
class EndableResults implements AsyncGenerator<ExecutionResult, undefined> {
  private ending: GraphQLError | undefined;
  private finished = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly inner: AsyncIterator<ExecutionResult>,
    private readonly pace: StreamPace,
  ) {}

  /** Ends the results: the next one is `error`, then none. */
  end(error: GraphQLError): void {
    if (this.finished || this.ending) return;
    this.ending = error;
    void this.inner.return?.();
    this.wake?.();
  }

  async next(): Promise<IteratorResult<ExecutionResult, undefined>> {
    // Taken from the hub only once graphql-sse's queue of unwritten results is short (StreamPace).
    while (!this.finished && !this.ending && this.pace.unwritten >= MAX_UNWRITTEN_RESULTS) {
      await new Promise<void>((resolve) => (this.wake = this.pace.wake = resolve));
      this.wake = this.pace.wake = undefined;
    }
    const item = await this.take();
    if (!item.done) this.pace.unwritten++;
    return item;
  }

  private async take(): Promise<IteratorResult<ExecutionResult, undefined>> {
    if (this.finished) return done();
    if (!this.ending) {
      const ended = new Promise<'ended'>((resolve) => (this.wake = () => resolve('ended')));
      try {
        const item = await Promise.race([this.inner.next(), ended]);
        if (item !== 'ended') {
          if (item.done) this.finished = true;
          return item.done ? done() : item;
        }
      } catch (error) {
        this.ending =
          error instanceof GraphQLError
            ? error
            : new GraphQLError(error instanceof Error ? error.message : String(error), { originalError: error instanceof Error ? error : undefined });
      } finally {
        this.wake = undefined;
      }
    }
    this.finished = true;
    return { value: { errors: [this.ending as GraphQLError] }, done: false };
  }

  async return(): Promise<IteratorResult<ExecutionResult, undefined>> {
    this.finished = true;
    this.wake?.();
    await this.inner.return?.();
    return done();
  }

  async throw(error: unknown): Promise<IteratorResult<ExecutionResult, undefined>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }
}

/** A stream being written: its response, its messages, its sign-in. */
interface OpenStream {
  readonly response: ServerResponse;
  readonly signIn: StreamSignIn;
}

/**
 * GraphQL over Server-Sent Events (the graphql-sse protocol, "distinct connections mode") at
 * {@link STREAM_PATH}, for clients behind proxies that drop WebSockets. Subscriptions only: the
 * same `ticketEvents` as graphql-ws, through the same pieces:
 *
 * - authentication from the `Authorization` header (`Bearer <token>` or `Credential <hex>`) with
 *   the helper every transport uses, checked before the body is read (`admit`, an `onRequest`
 *   hook); refusals are HTTP statuses with a GraphQL-shaped body (401, 429, 503);
 * - the sign-in joins the registry graphql-ws sockets are in (live-sign-ins.ts): the per-user
 *   limit counts sockets and streams together, and a user change (deactivation, session ended,
 *   password changed) ends the user's streams with an `UNAUTHENTICATED` error, as it closes their
 *   sockets with 4403;
 * - documents through graphql-ws's cache and limits, context and shared execution as on a socket,
 *   so delivery filtering, `after` resume and the slow-subscriber cut-off are the hub's;
 * - shutdown: new streams get 503, open ones are ended without `complete` (the client reconnects,
 *   like after graphql-ws's 1001).
 *
 * Single connection mode (a stream reserved with PUT, operations sent with POST) is not offered:
 * its reservation lives in one process, and behind a load balancer the PUT, the GET and the POSTs
 * reach different processes. PUT and DELETE are answered 405 with that explanation.
 */
export class GraphQLStreamServer {
  private accepting = true;
  private readonly admitted = new WeakMap<FastifyRequest, StreamSignIn>();
  private readonly open = new Set<OpenStream>();
  private readonly handler: Handler<FastifyRequest, StreamRequestContext>;
  private readonly maxPerUser: number;

  constructor(private readonly options: LiveTransportOptions) {
    this.maxPerUser = options.maxConnectionsPerUser ?? DEFAULT_LIMITS.maxSocketsPerUser;
    const format = liveErrorFormatter(options.logger);
    // A refusal is one result with errors and no `data` (a request error, as graphql-ws sends it);
    // graphql-sse takes a plain object without `data` for execution arguments, so it goes as a
    // stream of one result, then `complete`.
    const asResult = (errors: readonly GraphQLFormattedError[]): AsyncGenerator<ExecutionResult> =>
      (async function* refused() {
        yield { errors: errors as unknown as GraphQLError[] };
      })();

    this.handler = createHandler<FastifyRequest, StreamRequestContext, LiveOperationContext & Record<PropertyKey, unknown>>({
      schema: options.schema,
      // Every request is a stream of its own: no reservation tokens (see the class comment).
      authenticate: () => null,
      subscribe: subscribeShared as (args: OperationArgs<LiveOperationContext & Record<PropertyKey, unknown>>) => OperationResult,
      onSubscribe: (request, params) => {
        if (!this.accepting) return asResult([format(refusal(ErrorCode.UNAVAILABLE, 'The server is shutting down'))]);
        const document = options.documents.get(options.schema, params.query);
        if (!('kind' in document)) return asResult(document.map((error) => format(error, 'GRAPHQL_VALIDATION_FAILED')));
        const operation = getOperationAST(document, params.operationName);
        if (!operation) {
          const message = params.operationName
            ? `Unknown operation named "${params.operationName}"`
            : 'Must provide operation name if query contains multiple operations';
          return asResult([{ message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }]);
        }
        if (operation.operation !== 'subscription') {
          return asResult([
            {
              message: `Only subscriptions are served at ${STREAM_PATH}; send queries and mutations to POST /graphql`,
              extensions: { code: 'BAD_REQUEST' },
            },
          ]);
        }
        const { signIn } = request.context;
        const contextValue = new LiveOperationContext(options, signIn);
        const args = {
          schema: options.schema,
          document,
          operationName: params.operationName,
          variableValues: params.variables,
          contextValue: contextValue as LiveOperationContext & Record<PropertyKey, unknown>,
        };
        if (!options.rateLimiter) return args;
        // Charged before it runs, like the same subscription on a socket.
        return chargeOperation(options.rateLimiter, signIn.viewer.id, { schema: options.schema, document, operation }, 'stream').then((refused) =>
          refused ? asResult([format(refused)]) : args,
        );
      },
      onOperation: (_context, request, _args, result) => {
        if (!isAsyncIterable<ExecutionResult>(result)) return undefined;
        const { signIn } = request.context;
        const operation = new EndableResults(result[Symbol.asyncIterator](), signIn.pace);
        signIn.operation = operation;
        if (signIn.endedBecause !== undefined) operation.end(refusal(ErrorCode.UNAUTHENTICATED, signIn.endedBecause));
        return operation;
      },
      // As graphql-ws's onNext: a result without `data` is a request error (variables that do not coerce).
      onNext: (_context, _request, result) => {
        const { errors } = result as ExecutionResult;
        if (!errors) return undefined;
        const ownCode = 'data' in result ? undefined : 'BAD_USER_INPUT';
        return { ...result, errors: errors.map((error) => (error instanceof GraphQLError ? format(error, ownCode) : error)) } as unknown as ExecutionResult;
      },
    });
  }

  /** Open streams in this process. */
  get streams(): number {
    return this.open.size;
  }

  /**
   * The `onRequest` hook: who is asking and whether they may open one more stream, before the
   * body is read. Answers the refusal itself and returns false; true when the request may go on.
   */
  async admit(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const refuse = (error: DomainError, status = HTTP_STATUS[error.code]) => {
      reply
        .code(status)
        .header('content-type', 'application/json; charset=utf-8')
        .send({ errors: [formatDomainError({ message: error.message }, error)] });
      return false;
    };
    if (!this.accepting) return refuse(new DomainError(ErrorCode.UNAVAILABLE, 'The server is shutting down'));
    if (!acceptsEventStream(request)) {
      return refuse(
        new DomainError(
          ErrorCode.BAD_INPUT,
          `${STREAM_PATH} serves GraphQL subscriptions as Server-Sent Events: send "Accept: text/event-stream" (graphql-sse's client does)`,
        ),
        406,
      );
    }
    // Changes to users arriving from here on reach this stream even if the check below read the user before them.
    const since = this.options.signIns.mark();
    let signIn: StreamSignIn;
    try {
      const { viewer, sessionId, expiresAt } = await authenticateRequest(
        this.options.services,
        authorizationFromHeader(request.headers.authorization),
        request.ip,
      );
      signIn = {
        viewer,
        sessionId,
        expiresAt,
        transport: 'stream',
        pace: { unwritten: 0 },
        end: (reason) => {
          if (signIn.operation) signIn.operation.end(refusal(ErrorCode.UNAUTHENTICATED, reason));
          else signIn.endedBecause = reason;
        },
      };
    } catch (error) {
      const domain = asDomainError(error);
      if (!domain) throw error;
      return refuse(domain);
    }
    // Counted synchronously after the check, as graphql-ws does: two streams of one user cannot both pass it.
    if (this.options.signIns.countOf(signIn.viewer.id) >= this.maxPerUser) {
      return refuse(new DomainError(ErrorCode.TOO_MANY_REQUESTS, `Too many open connections for this user (at most ${this.maxPerUser}): close one first`));
    }
    if (!this.accepting) return refuse(new DomainError(ErrorCode.UNAVAILABLE, 'The server is shutting down'));
    // However the request ends (streamed, refused while its body was parsed, dropped), the count goes.
    reply.raw.once('close', () => this.options.signIns.untrack(signIn));
    this.admitted.set(request, signIn);
    this.options.signIns.track(signIn, since);
    return true;
  }

  /** The route handler: runs the subscription and writes its events until it ends or the client leaves. */
  async serve(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const signIn = this.admitted.get(request);
    if (!signIn) throw new Error('graphql-sse served a request that was not admitted');
    const [body, init] = await this.handler({
      method: request.method,
      url: request.url,
      headers: {
        // Admitted requests accept text/event-stream; graphql-sse compares the header exactly.
        get: (key) => (key.toLowerCase() === 'accept' ? 'text/event-stream' : headerValue(request.headers[key.toLowerCase()])),
      },
      body: (request.body as Record<string, unknown> | string | undefined) ?? null,
      raw: request,
      context: { signIn },
    });
    reply.hijack();
    const response = reply.raw;
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(reply.getHeaders()))
      if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : String(value);
    // X-Accel-Buffering: nginx passes this response on as it comes instead of buffering it.
    response.writeHead(init.status, init.statusText, {
      ...headers,
      ...init.headers,
      ...(typeof body === 'object' && body ? { 'x-accel-buffering': 'no' } : {}),
    });
    if (!body || typeof body === 'string') {
      response.end(body ?? undefined);
      return;
    }
    const stream: OpenStream = { response, signIn };
    this.open.add(stream);
    const onClose = () => {
      this.open.delete(stream);
      void body.return(undefined);
    };
    response.once('close', onClose);
    try {
      for await (const message of body) {
        if (response.writableEnded || response.destroyed) break;
        // Waits until the message is handed to the socket, and only then lets the subscription
        // produce its next result (StreamPace): a client that does not read holds its
        // subscription's queue, which the hub cuts off past its bound (slow subscriber).
        await new Promise<void>((resolve) => response.write(message, () => resolve()));
        if (isResultMessage(message)) {
          const { pace } = signIn;
          pace.unwritten = Math.max(0, pace.unwritten - 1);
          pace.wake?.();
        }
      }
    } catch (error) {
      this.options.logger.error({ err: error }, 'graphql-sse stream failed');
    } finally {
      response.off('close', onClose);
      this.open.delete(stream);
      if (!response.writableEnded) response.end();
    }
  }

  /** New streams are refused with 503, subscriptions on requests already admitted with SERVICE_UNAVAILABLE. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * Ends every open stream without `complete` and resolves when their connections are gone.
   * graphql-sse's client takes a stream that ends while its subscription is active as a network
   * error and reconnects (with `after`, nothing is missed; docs/live-updates.md), as graphql-ws's
   * client does after a 1001.
   */
  async close(): Promise<void> {
    this.stopAccepting();
    await Promise.all(
      [...this.open].map(
        ({ response }) =>
          new Promise<void>((resolve) => {
            if (response.destroyed) return resolve();
            const timer = setTimeout(() => response.destroy(), CLOSE_GRACE_MS);
            response.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            // The connection goes with the stream: the server is closing, nothing else will use it.
            response.end(() => response.socket?.end());
          }),
      ),
    );
  }
}

function headerValue(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

function acceptsEventStream(request: FastifyRequest): boolean {
  const accept = headerValue(request.headers.accept);
  return accept !== null && accept.split(',').some((type) => type.split(';')[0].trim().toLowerCase() === 'text/event-stream');
}
