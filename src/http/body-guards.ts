import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage, Server } from 'node:http';
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
 * A request refused before its body was read to its end (here, before authentication, or at a
 * part of a form) goes through {@link settleUnreadBody}: a large body from a sender we do not
 * know is not read and its connection closes; the rest of an authenticated sender's body is read
 * (within bounds) first, so the client reads the refusal.
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

/**
 * Sends a refusal made before the body was read (an `onRequest` hook): as {@link settleUnreadBody}
 * for a sender we do not know, so a large body is not read and its connection closes.
 */
export async function refuseUnread(request: FastifyRequest, reply: FastifyReply, error: DomainError, body?: unknown): Promise<FastifyReply> {
  await settleUnreadBody(request, reply, 'unknown');
  const status = HTTP_STATUS[error.code];
  if (error.details.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.details.retryAfterSeconds));
  return reply.status(status).send(body ?? { code: status, message: error.message });
}

/** The most of an authenticated sender's unread body that is read (and dropped) before its refusal is sent. */
export const DRAIN_BEFORE_REFUSAL_BYTES = 1024 * 1024;
/** How long an unread body is read before its refusal is sent all the same. */
export const DRAIN_BEFORE_REFUSAL_MS = 2_000;

/** Who sent a body that is refused before it was read to its end: a verified credential, or someone we do not know. */
export type BodySender = 'authenticated' | 'unknown';

/**
 * Readies the refusal of a request whose body is not read to its end (refused before it, or at a
 * part of a form: no credential yet, not an image, one file too many), before the error is answered.
 *
 * A client still sending when the answer comes and the connection closes under it sees a reset
 * instead of the answer (Node 24's `fetch` reports `write EPIPE`): closing with unread bytes
 * resets the connection. So the rest of the body is read and dropped first, as far as the sender
 * may make us read:
 *
 * - **an authenticated sender**: at most {@link DRAIN_BEFORE_REFUSAL_BYTES} more;
 * - **a sender we do not know**: only a body declared small (Content-Length up to
 *   {@link SMALL_BODY_BYTES}, what an anonymous `/graphql` request may send anyway); a larger or
 *   chunked one is not read at all.
 *
 * Either way within {@link DRAIN_BEFORE_REFUSAL_MS}. A body read to its end keeps its keep-alive
 * connection; otherwise (too large, too slow, not read) the answer closes it (`connection: close`).
 *
 * The rest is read before the answer, not after it (as nginx's lingering close does), because
 * Node's HTTP server closes a `connection: close` socket as soon as its answer is written; and so
 * the request holds its bytes-in-flight reservation and its connection while it drains, like any
 * request being read.
 */
export async function settleUnreadBody(request: FastifyRequest, reply: FastifyReply, sender: BodySender): Promise<void> {
  const declared = declaredBodyBytes(request);
  const maxBytes = sender === 'authenticated' ? DRAIN_BEFORE_REFUSAL_BYTES : declared !== undefined && declared <= SMALL_BODY_BYTES ? SMALL_BODY_BYTES : 0;
  const outcome = maxBytes > 0 ? await drain(request.raw, maxBytes, DRAIN_BEFORE_REFUSAL_MS) : 'not-read';
  if (outcome === 'ended') return;
  if (outcome !== 'not-read') request.log.info({ outcome, sender }, 'refused request: the rest of its body is not read');
  reply.header('connection', 'close');
}

type DrainOutcome = 'ended' | 'too-large' | 'too-slow' | 'gone' | 'not-read';

/** Reads and drops what is left of a request body: until it ends, `maxBytes` came, `maxMs` passed, or the request is gone. */
function drain(raw: IncomingMessage, maxBytes: number, maxMs: number): Promise<DrainOutcome> {
  // A parser (multipart's busboy) may still be piped from the request: the rest is nobody's now.
  raw.unpipe();
  if (raw.readableEnded) return Promise.resolve('ended');
  if (raw.destroyed) return Promise.resolve('gone');
  return new Promise((resolve) => {
    let bytes = 0;
    const finish = (outcome: DrainOutcome) => {
      clearTimeout(timer);
      raw.off('data', onData).off('end', onEnd).off('close', onGone).off('error', onGone);
      if (outcome !== 'ended') raw.pause();
      resolve(outcome);
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) finish('too-large');
    };
    const onEnd = () => finish('ended');
    const onGone = () => finish('gone');
    const timer = setTimeout(() => finish('too-slow'), maxMs);
    raw.on('data', onData).once('end', onEnd).once('close', onGone).once('error', onGone);
    raw.resume();
  });
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
        request,
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
