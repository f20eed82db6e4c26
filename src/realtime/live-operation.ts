import type { EntityManager } from '@mikro-orm/core';
import { GraphQLError, type DocumentNode, type GraphQLFormattedError, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { asDomainError } from '../db/unavailable';
import type { DocumentCache } from '../graphql/document-cache';
import { createFormatError, formatDomainError } from '../graphql/errors';
import type { LiveContext } from '../graphql/live-context';
import { operationPoints } from '../graphql/rate-cost';
import type { TicketEventFeed } from '../modules/event/ticket-event.feed';
import { budgetSpent, type RateLimiter, type RateLimitTransport } from '../modules/ratelimit/rate-limiter';
import type { Viewer } from '../modules/user/viewer';
import type { Services } from '../services';
import { DomainError, ErrorCode } from '../shared/errors';
import type { LiveSignIn, LiveSignIns } from './live-sign-ins';
import type { ViewerKeyed } from './shared-execution';

/**
 * What the live transports (graphql-ws.server.ts, graphql-sse.server.ts) share for running one
 * operation: their options, its context, its charge to the request budget and the error
 * formatting, so a subscription behaves the same whichever transport carries it.
 */

/** What both live transports are built from; live-updates.ts builds one and hands it to both. */
export interface LiveTransportOptions {
  readonly schema: GraphQLSchema;
  readonly services: Services;
  readonly feed: TicketEventFeed;
  readonly fork: () => EntityManager;
  readonly publicUrl: () => string;
  readonly logger: { error(object: object, message: string): void; warn?(object: object, message: string): void };
  /** Parsed and validated documents, with the limits HTTP applies (query-limits.ts). */
  readonly documents: DocumentCache;
  /** The sign-ins of this process's sockets and streams: user changes reach both, the per-user limit counts both. */
  readonly signIns: LiveSignIns;
  /** Sockets and streams one user may hold at once in this process (WS_MAX_SOCKETS_PER_USER). */
  readonly maxConnectionsPerUser?: number;
  /**
   * Request budgets (RATE_LIMIT_POINTS): an operation started on a socket or a stream (a
   * subscription counts once, when it starts; its events are free) is charged like the same
   * operation over HTTP, before it runs (`chargeOperation`).
   */
  readonly rateLimiter?: RateLimiter;
}

/**
 * The context of one live operation (on a graphql-ws socket or a graphql-sse stream): the
 * connection's viewer, authenticated once when it opened, and an EntityManager fork that is replaced before every event (`renew`), so a
 * subscription that lives for hours does not grow one identity map. The fork is made lazily:
 * most events are served from the hub's shared reads and never touch it.
 */
export class LiveOperationContext implements LiveContext, ViewerKeyed {
  private current: EntityManager | undefined;
  private viewerPromise: Promise<Viewer>;
  private keyedViewer: Viewer;
  private key: string;

  private readonly fork: () => EntityManager;
  readonly services: Services;
  readonly feed: TicketEventFeed;
  readonly publicUrl: string;

  constructor(
    options: Pick<LiveTransportOptions, 'fork' | 'services' | 'feed' | 'publicUrl'>,
    private readonly signIn: Pick<LiveSignIn, 'viewer' | 'sessionId'>,
  ) {
    this.fork = options.fork;
    this.services = options.services;
    this.feed = options.feed;
    this.publicUrl = options.publicUrl();
    this.keyedViewer = signIn.viewer;
    this.viewerPromise = Promise.resolve(signIn.viewer);
    this.key = LiveOperationContext.keyOf(signIn.viewer, this.publicUrl);
  }

  private static keyOf(viewer: Viewer, publicUrl: string): string {
    return `${viewer.id}:${[...viewer.roles].sort().join(',')}:${viewer.isAdmin}:${publicUrl}`;
  }

  /** Subscriptions of equal viewers share each event's execution (shared-execution.ts). */
  get viewerKey(): string {
    this.sync();
    return this.key;
  }

  /** The connection's viewer may have been replaced (a role change) since the last call. */
  private sync(): void {
    if (this.keyedViewer === this.signIn.viewer) return;
    this.keyedViewer = this.signIn.viewer;
    this.viewerPromise = Promise.resolve(this.signIn.viewer);
    this.key = LiveOperationContext.keyOf(this.signIn.viewer, this.publicUrl);
  }

  get em(): EntityManager {
    return (this.current ??= this.fork());
  }

  viewer(): Promise<Viewer> {
    this.sync();
    return this.viewerPromise;
  }

  resolvedViewer(): Viewer {
    return this.signIn.viewer;
  }

  sessionId(): string | undefined {
    return this.signIn.sessionId;
  }

  renew(): void {
    this.current = undefined;
  }
}

/** A domain error as the refusal of one operation (sent as that operation's error). */
export const refusalOf = (error: DomainError): GraphQLError => new GraphQLError(error.message, { originalError: error });

/** A refusal in the shape every transport maps (extensions.code from the domain code). */
export const refusal = (code: ErrorCode, message: string): GraphQLError => new GraphQLError(message, { originalError: new DomainError(code, message) });

/**
 * Charges an operation to its user's request budget, as many points as the same operation costs
 * over HTTP (graphql/rate-cost.ts). Resolves to the refusal when the budget is spent or cannot be
 * read (the budget store is unavailable), else to undefined: the operation may run.
 */
export async function chargeOperation(
  rateLimiter: RateLimiter,
  userId: number,
  request: { readonly schema: GraphQLSchema; readonly document: DocumentNode; readonly operation: OperationDefinitionNode },
  transport: RateLimitTransport,
): Promise<GraphQLError | undefined> {
  try {
    const budget = await rateLimiter.take({ userId }, operationPoints(request.schema, request.document, request.operation), transport);
    return budget.admitted ? undefined : refusalOf(budgetSpent(budget));
  } catch (error) {
    const domain = asDomainError(error);
    if (!domain) throw error;
    return refusalOf(domain);
  }
}

/**
 * Formats errors of live operations like the HTTP transport's. Errors raised outside a resolver
 * (refusals, a stream that failed) carry no path, so Apollo's unwrapping does not see their
 * domain error: unwrap it here. GraphQL's own refusals (a document that does not validate,
 * variables of the wrong type) carry no code and at most another GraphQLError as their origin:
 * Apollo tags them on HTTP, `ownCode` tags them the same way here.
 */
export function liveErrorFormatter(logger: { error(object: object, message: string): void }): (error: GraphQLError, ownCode?: string) => GraphQLFormattedError {
  const formatError = createFormatError((error) => logger.error({ err: error }, 'unhandled GraphQL error'));
  return (error, ownCode) => {
    if (error.originalError instanceof DomainError) return formatDomainError(error.toJSON(), error.originalError);
    if (ownCode !== undefined && (!error.originalError || error.originalError instanceof GraphQLError)) {
      const code = typeof error.extensions.code === 'string' ? error.extensions.code : ownCode;
      return { message: error.message, locations: error.locations, path: error.path, extensions: { code } };
    }
    return formatError(error.toJSON(), error);
  };
}
