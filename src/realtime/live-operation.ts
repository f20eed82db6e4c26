import type { EntityManager } from '@mikro-orm/core';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { createFormatError, formatDomainError } from '../graphql/errors';
import type { LiveContext } from '../graphql/live-context';
import type { TicketEventFeed } from '../modules/event/ticket-event.feed';
import type { Viewer } from '../modules/user/viewer';
import type { Services } from '../services';
import { DomainError, ErrorCode } from '../shared/errors';
import type { LiveSignIn } from './live-sign-ins';
import type { ViewerKeyed } from './shared-execution';

/**
 * What the live transports (graphql-ws.server.ts, graphql-sse.server.ts) share for running one
 * operation: its context, the parsed-document cache and the error formatting, so a subscription
 * behaves the same whichever transport carries it.
 */

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

  constructor(
    private readonly fork: () => EntityManager,
    readonly services: Services,
    readonly publicUrl: string,
    readonly feed: TicketEventFeed,
    private readonly signIn: Pick<LiveSignIn, 'viewer' | 'sessionId'>,
  ) {
    this.keyedViewer = signIn.viewer;
    this.viewerPromise = Promise.resolve(signIn.viewer);
    this.key = LiveOperationContext.keyOf(signIn.viewer, publicUrl);
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
