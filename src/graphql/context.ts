import type { EntityManager } from '@mikro-orm/core';
import { unauthenticated } from '../shared/errors';
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
}

/** `Authorization: Credential <hex>` → the hex; undefined when absent or of another scheme. */
export function credentialFromHeader(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value?.match(/^\s*Credential\s+(\S+)\s*$/i);
  return match?.[1];
}

/**
 * Verifies an `Authorization` header: the viewer, or UNAUTHENTICATED (absent, another scheme, a
 * malformed or wrong credential) or TOO_MANY_REQUESTS. The HTTP layer calls it before reading a
 * `/graphql` body (http/auth-before-body.ts); a new scheme belongs here, so both agree.
 */
export function viewerFromAuthorization(services: Services, header: string | string[] | undefined, clientAddress: string): Promise<Viewer> {
  const credential = credentialFromHeader(header);
  if (credential === undefined) return Promise.reject(unauthenticated());
  return services.auth.authenticate(credential, clientAddress);
}

/**
 * A memoised viewer lookup: authentication runs at most once per request or operation, not at
 * all when the request's header was verified before its body was read (`verified`).
 */
export function lazyViewer(
  services: Services,
  credential: unknown,
  clientAddress: string,
  verified?: Viewer,
): Pick<RequestContext, 'viewer' | 'resolvedViewer'> {
  let viewer: Promise<Viewer> | undefined = verified ? Promise.resolve(verified) : undefined;
  let resolved: Viewer | undefined = verified;
  return {
    viewer: () => {
      if (credential === undefined || credential === null || credential === '') return Promise.reject(unauthenticated());
      viewer ??= services.auth.authenticate(credential, clientAddress).then((value) => (resolved = value));
      return viewer;
    },
    resolvedViewer: () => resolved,
  };
}
