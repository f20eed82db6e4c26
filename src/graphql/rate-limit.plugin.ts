import type { ApolloServerPlugin, GraphQLRequestContextDidResolveOperation } from '@apollo/server';
import { GraphQLError } from 'graphql';
import {
  budgetSpent,
  rateLimitExtension,
  rateLimitHeaders,
  type RateLimitClient,
  type RateLimiter,
  type RateLimitState,
} from '../modules/ratelimit/rate-limiter';
import { ErrorCode } from '../shared/errors';
import { asDomainError } from '../db/unavailable';
import type { RequestContext } from './context';
import { operationPoints } from './rate-cost';

/**
 * Request budgets on `/graphql` (GET and POST): once the document has parsed, validated and named
 * its operation, and before anything executes, the operation's points (rate-cost.ts) are taken
 * from its client's budget. The answer carries the `RateLimit-*` headers and
 * `extensions.rateLimit` ({cost, limit, remaining, resetAt}); an operation that does not fit is
 * answered 429 with `Retry-After` and TOO_MANY_REQUESTS, and does not run.
 *
 * A document refused by parsing or validation is not charged and gets no headers: nothing of it
 * runs, and that work is bounded by the document limits (query-limits.ts) before anyone is known.
 */
export function rateLimitPlugin(limiter: RateLimiter): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      let state: RateLimitState | undefined;
      return {
        async didResolveOperation(requestContext) {
          const { operation } = requestContext;
          // No operation by that name: execution only reports it, nothing to charge.
          if (!operation) return;
          const points = operationPoints(requestContext.schema, requestContext.document, operation);
          try {
            state = await limiter.take(await clientOf(requestContext), points, 'graphql');
          } catch (error) {
            throw withStatus(error);
          }
          for (const [name, value] of Object.entries(rateLimitHeaders(state))) requestContext.response.http.headers.set(name, value);
          if (!state.admitted) throw withStatus(budgetSpent(state));
        },
        async willSendResponse({ response }) {
          if (!state || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          result.extensions = { ...result.extensions, rateLimit: rateLimitExtension(state) };
        },
      };
    },
  };
}

/**
 * Who pays: the viewer when the request carries an Authorization header (verified already for a
 * POST, before its body was read; the lookup is memoised for the resolvers), else the client
 * address. A header that does not verify pays as its address: the operation then fails wherever
 * it needs the viewer, as it would without budgets.
 */
async function clientOf(requestContext: GraphQLRequestContextDidResolveOperation<RequestContext>): Promise<RateLimitClient> {
  const { contextValue } = requestContext;
  if (requestContext.request.http?.headers.get('authorization') !== undefined) {
    try {
      return { userId: (await contextValue.viewer()).id };
    } catch (error) {
      const code = asDomainError(error)?.code;
      if (code !== ErrorCode.UNAUTHENTICATED && code !== ErrorCode.TOO_MANY_REQUESTS) throw error;
    }
  }
  return { address: contextValue.clientAddress ?? 'unknown' };
}

/** The refusals this plugin makes before anything runs: a spent budget, or a budget store out of reach. */
const REFUSAL_STATUS: Partial<Record<ErrorCode, number>> = { [ErrorCode.TOO_MANY_REQUESTS]: 429, [ErrorCode.UNAVAILABLE]: 503 };

/** A refusal made outside any resolver, with the HTTP status of its domain code (429, 503). */
function withStatus(error: unknown): unknown {
  const domain = asDomainError(error);
  const status = domain && REFUSAL_STATUS[domain.code];
  if (!domain || !status) return error;
  return new GraphQLError(domain.message, { originalError: domain, extensions: { http: { status } } });
}
