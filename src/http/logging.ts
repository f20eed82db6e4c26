import type { FastifyLoggerOptions, FastifyRequest, FastifyServerOptions } from 'fastify';

/** A URL without its query string. */
export function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * Where secrets can appear in a log line, redacted whatever logs them: the Authorization header
 * (credentials), the legacy body's `credential`, passwords (createUser variables, graphql-ws
 * connection parameters), the credential key.
 */
export const REDACTED_LOG_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'headers.authorization',
  'credential',
  'password',
  'credentialKey',
  '*.credential',
  '*.password',
  '*.credentialKey',
  '*.*.credential',
  '*.*.password',
  'variables.input.password',
  '*.variables.input.password',
  'connectionParams.credential',
  '*.connectionParams.credential',
  // Sign-in tokens and the password fields of login, changePassword and resetPassword (issue 11).
  'token',
  '*.token',
  '*.*.token',
  'newPassword',
  'currentPassword',
  '*.newPassword',
  '*.currentPassword',
  '*.*.newPassword',
  '*.*.currentPassword',
  'variables.password',
  '*.variables.password',
  'connectionParams.token',
  '*.connectionParams.token',
];

/**
 * pino settings for the server: secrets redacted, and request URLs logged without their query
 * string (GET /graphql carries variables, passwords included, in it).
 */
export function loggerOptions(level: string, stream?: FastifyLoggerOptions['stream']): Exclude<FastifyServerOptions['logger'], boolean | undefined> {
  return {
    level,
    redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
    serializers: {
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: request.url.includes('?') ? `${pathOf(request.url)}?[redacted]` : request.url,
        host: request.host,
        remoteAddress: request.ip,
        remotePort: request.socket?.remotePort,
      }),
    },
    ...(stream ? { stream } : {}),
  };
}
