/**
 * Domain errors. Every failure the domain can explain carries one of these codes; the transports
 * (GraphQL, legacy endpoint, uploads, subscriptions) each map the code exhaustively to their own
 * shape, so one rule yields the same answer everywhere. Anything that is not a DomainError is a
 * bug: it is logged and masked, never shown to a client.
 */
export enum ErrorCode {
  BAD_INPUT = 'BAD_INPUT',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  NOT_FOUND = 'NOT_FOUND',
  CONFLICT = 'CONFLICT',
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
  TOO_MANY_REQUESTS = 'TOO_MANY_REQUESTS',
  UNAVAILABLE = 'UNAVAILABLE',
}

export interface ErrorDetails {
  /** The input field the error is about, when there is one (`content`, `staff-id`, ...). */
  field?: string;
  /** For TOO_MANY_REQUESTS: seconds until a retry may succeed. */
  retryAfterSeconds?: number;
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** The single message for every authentication failure: no user enumeration. */
export const INVALID_CREDENTIAL_MESSAGE = 'Invalid credential';

export const badInput = (field: string, message: string): DomainError => new DomainError(ErrorCode.BAD_INPUT, message, { field });
export const forbidden = (message: string): DomainError => new DomainError(ErrorCode.FORBIDDEN, message);
export const notFound = (message: string): DomainError => new DomainError(ErrorCode.NOT_FOUND, message);
export const conflict = (message: string): DomainError => new DomainError(ErrorCode.CONFLICT, message);
export const unauthenticated = (): DomainError => new DomainError(ErrorCode.UNAUTHENTICATED, INVALID_CREDENTIAL_MESSAGE);

export const isDomainError = (error: unknown): error is DomainError => error instanceof DomainError;
