import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { DomainError, ErrorCode } from '../shared/errors';

/** What secure-json-parse says when it refuses a `__proto__` or `constructor.prototype` member. */
const PROTOTYPE_REFUSAL = /forbidden prototype property/;

/**
 * An `application/json` request body, read as Fastify's default parser reads it
 * (secure-json-parse: a `__proto__` member, or a `constructor` holding `prototype`, is refused
 * rather than handed to code that may merge it into an object), but refused with a message that
 * names what is wrong: Fastify's says "Body is not valid JSON" for every failure, a member
 * it refuses included. Answered 400 as `{code, message}` (http/errors.ts).
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new DomainError(ErrorCode.BAD_INPUT, 'The request body is empty');
  try {
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (PROTOTYPE_REFUSAL.test(reason)) {
      throw new DomainError(ErrorCode.BAD_INPUT, 'The request body has a "__proto__" member or a "constructor" with a "prototype": neither is accepted');
    }
    // V8's message gives the position (and, on Node 22+, a few characters around it).
    throw new DomainError(ErrorCode.BAD_INPUT, `The request body is not valid JSON: ${reason}`);
  }
}

/**
 * Replaces the app's `application/json` parser with {@link parseJsonBody}, same body limits
 * (a route's `bodyLimit`, else the app's). Call before routes: the legacy endpoint replaces it
 * again in its own context with its tolerant reader (legacy/legacy.routes.ts).
 */
export function jsonRequestBodies(server: FastifyInstance): void {
  server.removeContentTypeParser('application/json');
  server.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
