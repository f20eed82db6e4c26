import type { FastifyInstance, FastifyRequest } from 'fastify';
import { formatDomainError } from '../graphql/errors';
import type { Authenticated } from '../modules/session/authorization';
import { DomainError, ErrorCode } from '../shared/errors';
import { asDomainError } from '../db/unavailable';
import { declaredBodyBytes, limitedBody, refuseUnread, SMALL_BODY_BYTES } from './body-guards';
import './route-config';

/**
 * Who is asking, decided before a body is read (docs/hardening.md, "Bodies read before we know
 * who is asking"):
 *
 * - On every route that takes large bodies (`/graphql`, `/api/ticket`, `/uploads`), a client
 *   address locked by the login throttle is refused with 429 before its body is read.
 * - On `POST /graphql` the credential is a header, so it is verified first: a header that is
 *   malformed, of another scheme or wrong is refused with 401 (GraphQL-shaped body) before the
 *   body is read. A request *without* an `Authorization` header is let through, since some
 *   operations need no viewer (introspection; a sign-in mutation), but with a small body only:
 *   at most {@link ANONYMOUS_BODY_BYTES}, refused with 413 up front when Content-Length says
 *   more, or while it streams when chunked. Only a request whose credential verified may send a
 *   large body (images inline, up to the route's limit).
 *
 * The legacy endpoint carries its credential in the body and must read it first: there the
 * bounds are the throttle check above, the bytes-in-flight budget and, for multipart, the rule
 * that the credential comes before any file (legacy.routes.ts).
 *
 * "Before the body is read": a refused body is not read and its connection closes, unless it is
 * declared small (at most {@link SMALL_BODY_BYTES}), which is read and dropped first so that the
 * client reads the refusal (body-guards.ts `settleUnreadBody`).
 */

/** Largest `/graphql` body a request without an Authorization header may send. */
export const ANONYMOUS_BODY_BYTES = SMALL_BODY_BYTES;

export interface AuthBeforeBodyOptions {
  /** Throws TOO_MANY_REQUESTS while the address is locked. */
  assertAddressNotLocked(clientAddress: string): Promise<void>;
  /** Verifies an Authorization header (graphql/context.ts `viewerFromAuthorization`). */
  verifyAuthorization(header: string | string[] | undefined, clientAddress: string): Promise<Authenticated>;
}

const verifiedViewers = new WeakMap<FastifyRequest, Authenticated>();
const anonymousChunked = new WeakSet<FastifyRequest>();

/** The viewer whose header was verified before the body was read, if any. */
export const verifiedViewerOf = (request: FastifyRequest): Authenticated | undefined => verifiedViewers.get(request);

const anonymousTooLarge = (): DomainError =>
  new DomainError(
    ErrorCode.PAYLOAD_TOO_LARGE,
    `A request without an Authorization header may carry at most ${ANONYMOUS_BODY_BYTES} bytes: send your credential to send more`,
  );

export function authBeforeBody(app: FastifyInstance, options: AuthBeforeBodyOptions): void {
  app.addHook('onRequest', async (request, reply) => {
    // What the route declares (http/route-config.ts): large bodies, a credential in the header.
    const route = request.routeOptions.config;
    if (request.method !== 'POST' || !route?.largeBody) return undefined;
    const graphql = route.credentialInHeader === true;
    try {
      if (!graphql || request.headers.authorization === undefined) {
        await options.assertAddressNotLocked(request.ip);
        if (!graphql) return undefined;
        const declared = declaredBodyBytes(request);
        if (declared === undefined) anonymousChunked.add(request);
        else if (declared > ANONYMOUS_BODY_BYTES) throw anonymousTooLarge();
        return undefined;
      }
      verifiedViewers.set(request, await options.verifyAuthorization(request.headers.authorization, request.ip));
      return undefined;
    } catch (error) {
      const domain = asDomainError(error);
      if (!domain) throw error;
      const body = graphql ? { errors: [formatDomainError({ message: domain.message }, domain)] } : undefined;
      return refuseUnread(request, reply, domain, body);
    }
  });

  app.addHook('preParsing', async (request, _reply, payload) => {
    if (!anonymousChunked.has(request)) return payload;
    return limitedBody(payload, ANONYMOUS_BODY_BYTES, anonymousTooLarge().message);
  });
}
