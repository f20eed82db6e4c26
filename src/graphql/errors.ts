import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { DomainError, ErrorCode } from '../shared/errors';
import { asDomainError } from '../db/unavailable';

/** `extensions.code` for each domain error code: exhaustive, so a new code cannot be forgotten. */
export const GRAPHQL_CODE: Record<ErrorCode, string> = {
  [ErrorCode.BAD_INPUT]: 'BAD_USER_INPUT',
  [ErrorCode.UNAUTHENTICATED]: 'UNAUTHENTICATED',
  [ErrorCode.FORBIDDEN]: 'FORBIDDEN',
  [ErrorCode.NOT_FOUND]: 'NOT_FOUND',
  [ErrorCode.CONFLICT]: 'CONFLICT',
  [ErrorCode.PAYLOAD_TOO_LARGE]: 'PAYLOAD_TOO_LARGE',
  [ErrorCode.TOO_MANY_REQUESTS]: 'TOO_MANY_REQUESTS',
  [ErrorCode.UNAVAILABLE]: 'SERVICE_UNAVAILABLE',
};

/** Codes GraphQL itself (parsing, validation, variable coercion) produces: safe to show. */
const GRAPHQL_OWN_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'BAD_REQUEST',
]);

/**
 * Apollo's own refusals of a malformed request (a persisted-query hash that does not match its
 * query, an unsupported persisted-query version) carry an HTTP 4xx status but no code.
 */
function isRequestRefusal(error: unknown): boolean {
  if (!(error instanceof GraphQLError) || error.originalError) return false;
  const status = (error.extensions.http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** The GraphQL shape of a domain error. */
export function formatDomainError(formatted: GraphQLFormattedError, error: DomainError): GraphQLFormattedError {
  const extensions: Record<string, unknown> = { code: GRAPHQL_CODE[error.code] };
  if (error.details.field) extensions.field = error.details.field;
  if (error.details.retryAfterSeconds !== undefined) extensions.retryAfterSeconds = error.details.retryAfterSeconds;
  return { message: error.message, locations: formatted.locations, path: formatted.path, extensions };
}

/**
 * Apollo's formatError: domain errors keep their message and get their code; GraphQL's own
 * errors pass; anything else is a bug, logged with its stack and shown only as an internal error.
 */
export function createFormatError(log: (error: unknown) => void) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    // A domain error raised outside any resolver (a plugin's refusal: rate-limit.plugin.ts) comes
    // wrapped in a GraphQLError without a path, which unwrapResolverError leaves as it is.
    const domain = asDomainError(original) ?? (original instanceof GraphQLError && !original.path ? asDomainError(original.originalError) : undefined);
    if (domain) return formatDomainError(formatted, domain);
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && GRAPHQL_OWN_CODES.has(code)) {
      // Drop any stack trace Apollo might have attached.
      return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions: { code } };
    }
    if (isRequestRefusal(original)) {
      return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions: { code: 'BAD_REQUEST' } };
    }
    log(original);
    return {
      message: 'Internal server error',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}
