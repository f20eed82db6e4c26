import { createHash, randomBytes } from 'node:crypto';

/**
 * Sign-in tokens: `hd1_` and 32 random bytes (256 bits) in base64url. The prefix names the
 * format (and lets secret scanners spot a leaked token); the database keeps only the SHA-256 of
 * the whole token, so a stolen backup or a read-only SQL injection yields no usable token. A slow
 * hash is not needed: nobody can guess 256 random bits, so there is no dictionary to slow down.
 */
export const TOKEN_PREFIX = 'hd1_';
const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^hd1_[A-Za-z0-9_-]{43}$/;

/** A fresh token. */
export const newToken = (): string => TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString('base64url');

/** Whether `value` has the exact shape of a token (checked before any lookup). */
export const isTokenShaped = (value: unknown): value is string => typeof value === 'string' && TOKEN_PATTERN.test(value);

/** What the database stores and looks tokens up by: hex SHA-256. */
export const tokenDigest = (token: string): string => createHash('sha256').update(token).digest('hex');

/** The timestamps that decide whether a session still works, in ms since the epoch. */
export interface SessionTimes {
  readonly lastUsedAt: number;
  /** The maximum age: sign-in time plus the configured maximum. */
  readonly expiresAt: number;
}

/** When a session used last at `lastUsedAt` stops working if left alone. */
export const idleExpiry = (times: Pick<SessionTimes, 'lastUsedAt' | 'expiresAt'>, idleTimeoutMs: number): number =>
  Math.min(times.expiresAt, times.lastUsedAt + idleTimeoutMs);
