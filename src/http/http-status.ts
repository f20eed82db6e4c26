import { ErrorCode } from '../shared/errors';

/** HTTP status for each code: used by the legacy endpoint, uploads and plain HTTP routes. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  [ErrorCode.BAD_INPUT]: 400,
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.CONFLICT]: 409,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.TOO_MANY_REQUESTS]: 429,
  [ErrorCode.UNAVAILABLE]: 503,
};
