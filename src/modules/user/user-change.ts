import type { EntityManager } from '@mikro-orm/core';

/**
 * What changed about a user, as every server process must hear it:
 * - `user`: roles, the admin flag or `active` (receivers read the user again);
 * - `password`: the password changed, so credentials made with the old one are dead;
 * - `session`: one sign-in token was revoked.
 */
export type UserChangeKind = 'user' | 'password' | 'session';

export interface UserChange {
  readonly kind: UserChangeKind;
  readonly userId: number;
  /** For `session`. */
  readonly sessionId?: string;
}

/**
 * Where the user services report changes, like the tickets' ChangeSink: `record` inside the write
 * transaction (PostgreSQL delivers what it queues only if that transaction commits), `committed`
 * after the commit (this process applies it at once; other buses publish).
 */
export interface UserChangeSink {
  record(tem: EntityManager, change: UserChange): Promise<void>;
  committed(change: UserChange): void;
}

/** Wire form `<kind>:<userId>[:<sessionId>]`; undefined for anything else. */
export function parseUserChange(payload: string): UserChange | undefined {
  const match = /^(user|password|session):([1-9][0-9]{0,9})(?::([0-9a-f-]{36}))?$/.exec(payload);
  if (!match) return undefined;
  const kind = match[1] as UserChangeKind;
  const userId = Number(match[2]);
  if (!Number.isSafeInteger(userId)) return undefined;
  if ((kind === 'session') !== (match[3] !== undefined)) return undefined;
  return match[3] ? { kind, userId, sessionId: match[3] } : { kind, userId };
}

export const formatUserChange = (change: UserChange): string =>
  change.sessionId ? `${change.kind}:${change.userId}:${change.sessionId}` : `${change.kind}:${change.userId}`;
