import type { EntityManager } from '@mikro-orm/core';
import { GraphQLError, parse, specifiedRules, validate, type DocumentNode, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { createFormatError, formatDomainError } from '../graphql/errors';
import type { GraphQLValidation } from '../graphql/query-limits';
import type { LiveContext, TicketEventFeed } from '../modules/event/ticket-event.feed';
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

/** Longest query text whose parsed document is kept for reuse. */
const MAX_CACHED_QUERY_LENGTH = 8 * 1024;
const MAX_CACHED_DOCUMENTS = 500;

/**
 * Parsed and validated documents by query text. Thousands of dashboards send the same
 * subscription; parsing it once instead of per subscription saves parse + validate and, above
 * all, memory: a live subscription keeps its document for as long as it lives, so identical
 * queries now share one. Least recently used entries go first.
 */
export class DocumentCache {
  private readonly documents = new Map<string, DocumentNode>();
  private readonly rules;

  constructor(private readonly validation: GraphQLValidation) {
    this.rules = [...specifiedRules, ...validation.rules];
  }

  /** The document, or the errors sent back for this operation (graphql-ws: an `error` message; graphql-sse: a `next` with errors). */
  get(schema: GraphQLSchema, query: string): DocumentNode | GraphQLError[] {
    const cached = this.documents.get(query);
    if (cached) {
      this.documents.delete(query);
      this.documents.set(query, cached);
      return cached;
    }
    let document: DocumentNode;
    try {
      document = parse(query, this.validation.parseOptions);
    } catch (error) {
      // graphql-ws would let a syntax error escape as an internal error that closes the whole
      // socket (4500): refuse just this operation, as Apollo does on HTTP.
      if (!(error instanceof GraphQLError)) throw error;
      const message = this.validation.message(error.message);
      return [new GraphQLError(message, { source: error.source, positions: error.positions, extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
    }
    const errors = validate(schema, document, this.rules);
    if (errors.length) {
      for (const error of errors) error.message = this.validation.message(error.message);
      return [...errors];
    }
    if (query.length <= MAX_CACHED_QUERY_LENGTH) {
      this.documents.set(query, document);
      if (this.documents.size > MAX_CACHED_DOCUMENTS) this.documents.delete(this.documents.keys().next().value as string);
    }
    return document;
  }
}

/** A refusal in the shape every transport maps (extensions.code from the domain code). */
export const refusal = (code: ErrorCode, message: string): GraphQLError =>
  new GraphQLError(message, { originalError: new DomainError(code, message) });

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
