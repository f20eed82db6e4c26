import type { EntityManager } from '@mikro-orm/core';
import { authenticateRequest, authorizationFromHeader, type Authenticated, type RequestAuthorization } from '../modules/session/authorization';
import type { Services } from '../services';
import type { IdempotencyKeyHeader } from '../modules/ticket/idempotency';
import type { Viewer } from '../modules/user/viewer';

/** What every resolver receives: a fresh EntityManager fork, the services, and the viewer. */
export interface RequestContext {
  readonly em: EntityManager;
  readonly services: Services;
  /** Base of absolute image URLs. */
  readonly publicUrl: string;
  /** The authenticated viewer; rejects with UNAUTHENTICATED. Verified once per request. */
  viewer(): Promise<Viewer>;
  /**
   * The viewer once `viewer()` has resolved, else undefined: lets per-ticket field resolvers
   * (permission flags on a page of 50 tickets) answer synchronously instead of with a promise each.
   */
  resolvedViewer?(): Viewer | undefined;
  /** The `Idempotency-Key` header (HTTP only), validated by the create that uses it. */
  readonly idempotencyKey?: IdempotencyKeyHeader;
  /** The sign-in session the request came with (a Bearer token), once `viewer()` has resolved. */
  sessionId?(): string | undefined;
  /**
   * `login` calls it once it has signed the user in: the rest of that operation (the Session's
   * `user { admin createdAt … }`) is answered as that user, like a request carrying the token.
   */
  signedIn?(authenticated: Authenticated): void;
  /** The client's address (HTTP), for throttling password checks (`login`, `changePassword`). */
  readonly clientAddress?: string;
  /** The client's User-Agent header (HTTP), shown in the session list. */
  readonly userAgent?: string;
}

/**
 * Verifies an `Authorization` header (a credential or a sign-in token): the viewer, or
 * UNAUTHENTICATED (absent, another scheme, malformed, wrong, revoked) or TOO_MANY_REQUESTS. The
 * HTTP layer calls it before reading a `/graphql` body (http/auth-before-body.ts); a new scheme
 * belongs in session/authorization.ts, so both agree.
 */
export function viewerFromAuthorization(services: Services, header: string | string[] | undefined, clientAddress: string): Promise<Authenticated> {
  return authenticateRequest(services, authorizationFromHeader(header), clientAddress);
}

/**
 * A memoised viewer lookup: authentication runs at most once per request or operation, not at
 * all when the request's header was verified before its body was read (`verified`).
 */
export function lazyViewer(
  services: Services,
  authorization: RequestAuthorization | undefined,
  clientAddress: string,
  verified?: Authenticated,
): Pick<RequestContext, 'viewer' | 'resolvedViewer' | 'sessionId' | 'signedIn'> {
  let viewer: Promise<Viewer> | undefined = verified ? Promise.resolve(verified.viewer) : undefined;
  let resolved: Authenticated | undefined = verified;
  return {
    viewer: () => {
      viewer ??= authenticateRequest(services, authorization, clientAddress).then((value) => {
        resolved = value;
        return value.viewer;
      });
      return viewer;
    },
    resolvedViewer: () => resolved?.viewer,
    sessionId: () => resolved?.sessionId,
    signedIn: (authenticated) => {
      resolved = authenticated;
      viewer = Promise.resolve(authenticated.viewer);
    },
  };
}
