import { unauthenticated } from '../../shared/errors';
import type { AuthService } from '../auth/auth.service';
import type { Viewer } from '../user/viewer';
import type { SessionService } from './session.service';

/** What a request authenticates with: a credential (docs/contract.md) or a sign-in token (`login`). */
export type RequestAuthorization = { readonly scheme: 'credential'; readonly value: string } | { readonly scheme: 'bearer'; readonly value: string };

/** `Authorization: Credential <hex>` or `Authorization: Bearer <token>`; undefined for anything else. */
export function authorizationFromHeader(header: string | string[] | undefined): RequestAuthorization | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value?.match(/^\s*(Credential|Bearer)\s+(\S+)\s*$/i);
  if (!match?.[2]) return undefined;
  return { scheme: match[1].toLowerCase() === 'bearer' ? 'bearer' : 'credential', value: match[2] };
}

/** graphql-ws `connectionParams`: `{ token }` or `{ credential }` (a token wins when both are sent). */
export function authorizationFromParams(params: Readonly<Record<string, unknown>> | undefined): RequestAuthorization | undefined {
  if (typeof params?.token === 'string' && params.token !== '') return { scheme: 'bearer', value: params.token };
  if (typeof params?.credential === 'string' && params.credential !== '') return { scheme: 'credential', value: params.credential };
  return undefined;
}

/** A verified request: the viewer, and for a token its session. */
export interface Authenticated {
  readonly viewer: Viewer;
  readonly sessionId?: string;
  /** A token's maximum age (ms since the epoch). */
  readonly expiresAt?: number;
}

/**
 * The one place every transport (GraphQL over HTTP, uploads, graphql-ws) turns an authorization
 * into a viewer: credentials through AuthService, tokens through SessionService.
 *
 * @throws DomainError UNAUTHENTICATED (one message for every failure), TOO_MANY_REQUESTS.
 */
export async function authenticateRequest(
  services: { readonly auth: AuthService; readonly sessions: SessionService },
  authorization: RequestAuthorization | undefined,
  clientAddress: string,
): Promise<Authenticated> {
  if (!authorization) throw unauthenticated();
  if (authorization.scheme === 'bearer') return services.sessions.authenticate(authorization.value);
  return { viewer: await services.auth.authenticate(authorization.value, clientAddress) };
}
