import type { ConnectionError, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { HttpErrorBody } from './errors';
import { pathOf } from './logging';
import { baseSecurityHeaders } from './security-headers';

/**
 * Refusals made before any route runs (unknown routes, malformed or overlong URLs, oversized
 * headers, slow clients), each answered in the API's `{code, message}` shape with the security
 * headers, never Fastify's or Node's default shape and never a 5xx; plus the request id and the
 * log settings that keep secrets out of the logs.
 */

/** Longest URL (path and query) a route is asked to handle; longer ones are 414. */
export const MAX_URL_LENGTH = 8 * 1024;

const REQUEST_ID_HEADER = 'x-request-id';
/** A caller's request id is kept when it looks like one (a UUID, a ULID, a trace id); else a fresh UUID. */
const WELL_FORMED_REQUEST_ID = /^[A-Za-z0-9._:@=+/-]{1,128}$/;

/** Fastify's `genReqId`: the caller's `x-request-id` when well formed, else a random UUID. */
export function requestId(request: IncomingMessage): string {
  const header = request.headers[REQUEST_ID_HEADER];
  return typeof header === 'string' && WELL_FORMED_REQUEST_ID.test(header) ? header : randomUUID();
}

const refusal = (reply: FastifyReply, status: number, message: string): FastifyReply =>
  reply.status(status).send({ code: status, message } satisfies HttpErrorBody);

/**
 * Registers the request-id echo, the URL length bound and the 404 handler. Call right after
 * creating the server, before any route.
 */
export function requestGuards(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    if (request.url.length > MAX_URL_LENGTH) {
      return refusal(reply, 414, `The URL is longer than ${MAX_URL_LENGTH} characters`);
    }
    return undefined;
  });
  app.setNotFoundHandler((request, reply) => refusal(reply, 404, `No route for ${request.method} ${pathOf(request.url).slice(0, 200)}`));
}

/**
 * Builds Fastify's `frameworkErrors`: a URL that does not decode (`/%zz`) and a path parameter
 * beyond `maxParamLength`, refused while routing, before any hook runs (so the security headers
 * are set here).
 */
export function frameworkErrorHandler(options: { https: boolean }) {
  const headers = baseSecurityHeaders(options);
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    reply.headers(headers).header(REQUEST_ID_HEADER, request.id);
    if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
      refusal(reply, 414, 'A path segment of the URL is too long');
      return;
    }
    // FST_ERR_BAD_URL, and anything else the router refuses, is the client's malformed request.
    refusal(reply, 400, 'The URL is malformed (it does not percent-decode)');
  };
}

/** What Node passes to `clientError` (Fastify's type has `rawPacket` as JSON; it is a Buffer). */
interface ClientError extends Error {
  code?: string;
  rawPacket?: unknown;
}

/** Whether the bytes that overflowed are still the request line (the URL), not the headers. */
function overflowedInRequestLine(error: ClientError): boolean {
  const packet = error.rawPacket;
  if (!Buffer.isBuffer(packet)) return false;
  const firstLineEnd = packet.indexOf('\r\n');
  return /^[A-Z]+ /.test(packet.subarray(0, 16).toString('latin1')) && (firstLineEnd === -1 || firstLineEnd > MAX_URL_LENGTH);
}

/** Status and message for an error Node's HTTP parser raised; undefined: nothing to answer. */
export function clientErrorAnswer(error: ClientError): { status: number; message: string } | undefined {
  switch (error.code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return { status: 408, message: 'The request did not arrive in time' };
    case 'HPE_HEADER_OVERFLOW':
      return overflowedInRequestLine(error) ? { status: 414, message: 'The URL is too long' } : { status: 431, message: 'The request headers are too large' };
    default:
      return { status: 400, message: 'Malformed HTTP request' };
  }
}

/**
 * Builds Fastify's `clientErrorHandler`. Node calls it for what its parser refuses (headers over
 * 16 KiB, malformed requests) and for clients too slow to send a request (headers or request
 * timeout); there is no request or reply then, so the answer is written on the socket.
 */
export function clientErrorHandler(options: { https: boolean }) {
  const headers = Object.entries(baseSecurityHeaders(options))
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return function handle(this: FastifyInstance, error: ConnectionError | ClientError, socket: Socket): void {
    const answer = clientErrorAnswer(error);
    this.log.debug({ err: { code: error.code, message: error.message }, status: answer?.status }, 'client error');
    const response = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (!answer || !socket.writable || response?.headersSent) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify({ code: answer.status, message: answer.message } satisfies HttpErrorBody);
    const reason = STATUS_CODES[answer.status] ?? 'Error';
    socket.end(
      `HTTP/1.1 ${answer.status} ${reason}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n${headers}\r\n${body}`,
    );
    // A client that never reads its answer does not keep the socket.
    setTimeout(() => socket.destroy(), 1_000).unref();
  };
}
