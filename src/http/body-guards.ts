import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { DomainError, ErrorCode } from '../shared/errors';
import { HTTP_STATUS } from './http-status';
import { baseSecurityHeaders } from './security-headers';

/**
 * Bounds on what the server holds for requests it has not yet read, let alone authenticated
 * (docs/hardening.md, "Bodies read before we know who is asking"):
 *
 * - **bytes in flight**: large bodies (beyond {@link SMALL_BODY_BYTES}) reserve their declared
 *   size from one budget for the whole process before a byte of them is read, and give it back
 *   when their answer is sent; a body that would overflow the budget is refused at once with 503
 *   and `Retry-After`, so a few slow senders cannot hold gigabytes;
 * - **connections per client address**: beyond the limit a new connection is answered 503 and
 *   closed before any request on it is parsed.
 *
 * The refusals made before a body is read close the connection (`connection: close`), so the
 * unread rest of the body is not read either.
 */

/** A body up to this size is small: read without reserving from the budget (it is what a connection holds anyway). */
export const SMALL_BODY_BYTES = 64 * 1024;

/** Default of `MAX_BODY_BYTES_IN_FLIGHT`: two of the largest JSON bodies (134 MiB each), or 25 uploads of ten 10 MiB images less their encoding. */
export const DEFAULT_MAX_BODY_BYTES_IN_FLIGHT = 256 * 1024 * 1024;
/** Default of `MAX_CONNECTIONS_PER_ADDRESS`. */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 128;

/** Bytes of request bodies the process has agreed to read and not yet released. */
export class BodyBudget {
  private used = 0;

  constructor(readonly capacity: number) {}

  /** Takes `bytes` from the budget; false (and nothing taken) when they do not fit. */
  tryReserve(bytes: number): boolean {
    if (this.used + bytes > this.capacity) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }

  /** Bytes reserved now (tests and metrics). */
  get inUse(): number {
    return this.used;
  }
}

/** The declared body size: Content-Length, `undefined` for a chunked body, 0 for none. */
export function declaredBodyBytes(request: FastifyRequest): number | undefined {
  const length = request.headers['content-length'];
  if (length !== undefined) {
    const bytes = Number(length);
    return Number.isSafeInteger(bytes) && bytes >= 0 ? bytes : undefined;
  }
  return request.headers['transfer-encoding'] === undefined ? 0 : undefined;
}

/** Sends a refusal made before the body was read, and closes the connection after it. */
export function refuseUnread(reply: FastifyReply, error: DomainError, body?: unknown): FastifyReply {
  const status = HTTP_STATUS[error.code];
  if (error.details.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.details.retryAfterSeconds));
  return reply
    .header('connection', 'close')
    .status(status)
    .send(body ?? { code: status, message: error.message });
}

/**
 * A stream that passes a body through and fails with 413 once more than `limit` bytes came:
 * bounds a chunked body (no Content-Length to judge up front) while it streams.
 */
export function limitedBody(payload: NodeJS.ReadableStream, limit: number, message: string): Transform {
  let received = 0;
  const limited = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      received += chunk.length;
      if (received > limit) callback(Object.assign(new DomainError(ErrorCode.PAYLOAD_TOO_LARGE, message), { statusCode: 413 }));
      else callback(null, chunk);
    },
  });
  payload.on('error', (error) => limited.destroy(error));
  return payload.pipe(limited);
}

export interface BodyBudgetOptions {
  readonly budget: BodyBudget;
  /** The body limit of a route (its `bodyLimit`), charged for a chunked body whose size is unknown. */
  readonly routeLimit: (request: FastifyRequest) => number;
}

/**
 * Registers the bytes-in-flight budget on every route: a request with a large declared body
 * (or a chunked one, charged at its route's limit) reserves it before the body is read; the
 * reservation ends with the response (sent, or the connection gone).
 */
export function bodyBudget(app: FastifyInstance, options: BodyBudgetOptions): void {
  const { budget } = options;
  app.addHook('onRequest', async (request, reply) => {
    const declared = declaredBodyBytes(request);
    if (declared !== undefined && declared <= SMALL_BODY_BYTES) return undefined;
    // Beyond the route's limit Fastify answers 413 without reading; a chunked body counts at the limit.
    const bytes = Math.min(declared ?? Infinity, options.routeLimit(request));
    if (bytes <= SMALL_BODY_BYTES) return undefined;
    if (!budget.tryReserve(bytes)) {
      request.log.warn({ bytes, inUse: budget.inUse, capacity: budget.capacity }, 'request body refused: too many large bodies in flight');
      return refuseUnread(
        reply,
        new DomainError(ErrorCode.UNAVAILABLE, 'The server is receiving too many large requests right now; retry shortly', { retryAfterSeconds: 1 }),
      );
    }
    reply.raw.once('close', () => budget.release(bytes));
    return undefined;
  });
}

/**
 * Caps open connections (HTTP and WebSocket alike) per client address: the one over the limit
 * is answered 503 and closed before anything on it is parsed. `max` 0 turns the cap off (behind a
 * reverse proxy every connection comes from the proxy's address).
 */
export function limitConnectionsPerAddress(server: Server, max: number, options: { https: boolean; onRefused?: (address: string) => void }): void {
  if (max <= 0) return;
  const open = new Map<string, number>();
  const headers = Object.entries(baseSecurityHeaders(options))
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const body = JSON.stringify({ code: 503, message: 'Too many connections from your address; close some and retry' });
  const refusal =
    `HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\ncontent-type: application/json; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n${headers}\r\n${body}`;
  // Before Node's HTTP listener: a refused socket is destroyed before its parser could read a
  // request from it. The answer is written first; a fresh socket takes it at once, and the client
  // reads it unless it had already sent bytes (then closing unread data resets the connection).
  server.prependListener('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const count = (open.get(address) ?? 0) + 1;
    if (count > max) {
      options.onRefused?.(address);
      socket.write(refusal);
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}
