import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ErrorCode } from '../shared/errors';
import { HTTP_STATUS } from './http-status';
import { asDomainError } from '../db/unavailable';

/** The body of every error answered by a plain HTTP route (legacy endpoint, uploads, images). */
export interface HttpErrorBody {
  code: number;
  message: string;
}

/** Sends a domain error as `{code, message}` with the same HTTP status (docs/contract.md legacy errors). */
export function sendDomainError(reply: FastifyReply, error: DomainError): FastifyReply {
  const status = HTTP_STATUS[error.code];
  if (error.details.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.details.retryAfterSeconds));
  return reply.status(status).send({ code: status, message: error.message } satisfies HttpErrorBody);
}

/**
 * Errors Fastify and its plugins raise for bad requests (body too large, malformed JSON,
 * multipart limits), turned into domain errors; undefined for anything else.
 */
export function requestErrorToDomain(error: FastifyError): DomainError | undefined {
  const status = error.statusCode;
  if (
    status === 413 ||
    error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ||
    error.code === 'FST_REQ_FILE_TOO_LARGE' ||
    error.code === 'FST_FILES_LIMIT' ||
    error.code === 'FST_PARTS_LIMIT' ||
    error.code === 'FST_FIELDS_LIMIT'
  ) {
    return new DomainError(ErrorCode.PAYLOAD_TOO_LARGE, requestTooLargeMessage(error));
  }
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new DomainError(ErrorCode.BAD_INPUT, 'Unsupported content type: send application/json or multipart/form-data');
  }
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new DomainError(ErrorCode.BAD_INPUT, 'The request body is empty');
  if (status !== undefined && status >= 400 && status < 500) {
    // Fastify's own 4xx (malformed JSON, bad content-length, ...): its message names the problem.
    return new DomainError(ErrorCode.BAD_INPUT, error.message);
  }
  return undefined;
}

function requestTooLargeMessage(error: FastifyError): string {
  switch (error.code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return 'An image is larger than 10 MiB';
    case 'FST_FILES_LIMIT':
      return 'At most 10 images per request';
    default:
      return 'The request body is too large';
  }
}

/**
 * The Fastify error handler: domain errors and request errors get their status; anything else is
 * a bug, logged with its stack and answered 500 without details.
 */
export function httpErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const domain = asDomainError(error) ?? requestErrorToDomain(error);
  if (domain) return sendDomainError(reply, domain);
  request.log.error({ err: error }, 'unhandled error');
  return reply.status(500).send({ code: 500, message: 'Internal server error' } satisfies HttpErrorBody);
}

/**
 * What an error thrown while reading a multipart body stands for. The parser's limits come with
 * an HTTP status (413 and the like) and are answered as such; anything else it throws (no
 * boundary, a form cut short) is the client's malformed body, not a server fault.
 */
export function malformedMultipart(error: unknown): unknown {
  if (error instanceof DomainError) return error;
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new DomainError(ErrorCode.BAD_INPUT, `Malformed multipart/form-data body: ${reason}`, { field: 'body' });
}
