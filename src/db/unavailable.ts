import { ConnectionException } from '@mikro-orm/core';
import { DomainError, ErrorCode } from '../shared/errors';

const NETWORK_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * PostgreSQL SQLSTATEs that mean "the database is not there right now" rather than "your request
 * is wrong": connection exceptions (class 08), operator intervention (57P01-57P03: shutdown,
 * crash, cannot connect now), too many connections, and a statement cancelled by the
 * `statement_timeout` the server enforces (57014) or a lock not granted in time (55P03): a
 * database that hangs (db/database.ts).
 */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-3]|53300|57014|55P03)$/;

const MESSAGE_PATTERNS = [
  /Connection terminated/i,
  /connect ECONNREFUSED/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
  // knex's answer to a statement sent in a transaction it has already ended. For a write inside
  // `em.transactional` the only way to get there is a transaction-control statement
  // (BEGIN on a pooled connection the server has just dropped) that failed: knex marks the
  // transaction complete, and the callback's first statement reports this instead of the cause.
  // Found by the PostgreSQL outage test (test/hardening/faults-postgres-outage.test.ts).
  /Transaction query already complete/i,
  // The bounds on a database that hangs (db/database.ts): no answer within query_timeout, no
  // pooled connection within the acquire timeout, no new connection within its timeout, and a
  // connection closed because its query timed out.
  /Query read timeout/,
  /Timeout acquiring a connection/i,
  /Connection terminated due to connection timeout/i,
  /\btimeout expired\b/i,
  /Client was closed and is not queryable/i,
];

/**
 * Whether an error means the database is unreachable. Such failures are answered with 503 (and
 * GraphQL's SERVICE_UNAVAILABLE) so clients retry, instead of a 500 that reads like a bug.
 */
export function isUnavailable(error: unknown, depth = 0): boolean {
  // Not `instanceof Error`: a socket error is made by Node's own realm, which differs from the
  // caller's under a VM sandbox (jest), and would be missed.
  if (typeof error !== 'object' || error === null || depth > 3) return false;
  if (error instanceof ConnectionException) return true;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (NETWORK_ERROR_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
  if (typeof message === 'string' && MESSAGE_PATTERNS.some((pattern) => pattern.test(message))) return true;
  return isUnavailable((error as { cause?: unknown }).cause, depth + 1) || isUnavailable((error as { previous?: unknown }).previous, depth + 1);
}

export const unavailable = (): DomainError => new DomainError(ErrorCode.UNAVAILABLE, 'The service is temporarily unavailable, retry shortly');

/** The domain error an infrastructure failure stands for, if it stands for one. */
export const asDomainError = (error: unknown): DomainError | undefined =>
  error instanceof DomainError ? error : isUnavailable(error) ? unavailable() : undefined;
