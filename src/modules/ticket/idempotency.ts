import type { EntityManager } from '@mikro-orm/core';
import { createHash } from 'node:crypto';
import { badInput, conflict } from '../../shared/errors';
import type { ImageRef } from '../image/image-ref';
import { execute } from '../../db/sql';

/**
 * Safe retries of ticket creation: the `Idempotency-Key` request header.
 *
 * A client that did not get an answer (timeout, dropped connection) cannot know whether its
 * create was applied. Sending the same request again with the same key returns the ticket the
 * first one made instead of filing a second one. Keys belong to the user who sent them; a key
 * remembers a fingerprint of its request, and the same key with a different request is a
 * CONFLICT, never a silent replay of something else.
 *
 * The key row is written in the ticket's own transaction, as its first statement (a claim):
 * - no key row without its ticket, and no ticket without its key row (they commit together; a
 *   failed create leaves the key free for a corrected retry);
 * - two racing requests with one key: PostgreSQL makes the second `insert … on conflict do
 *   nothing` wait for the first transaction; once it commits, the second finds the row and
 *   returns its ticket (once it rolls back, the second claims the key and creates). The embedded
 *   database runs one transaction at a time, so there the second simply comes after.
 */

/** The header, as clients spell it; also the field named in validation errors. */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/** Longest key accepted (characters). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** How long a key is remembered: a retry within this period gets the first result. */
export const IDEMPOTENCY_KEY_RETENTION_HOURS = 24;

/** The header's raw value(s): several when a request repeats the header (read by http/idempotency-header.ts). */
export type IdempotencyKeyHeader = string | readonly string[] | undefined;

const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/**
 * Validates a key: 1 to 255 printable ASCII characters, taken literally (case-sensitive; quotes
 * are part of the key). Undefined when no header was sent.
 *
 * @throws DomainError BAD_INPUT naming `Idempotency-Key`.
 */
export function parseIdempotencyKey(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const field = IDEMPOTENCY_KEY_HEADER;
  if (Array.isArray(value)) throw badInput(field, `Send at most one ${field} header`);
  if (typeof value !== 'string') throw badInput(field, `${field} must be a string`);
  if (value.length === 0) throw badInput(field, `${field} must not be empty`);
  if (value.length > MAX_IDEMPOTENCY_KEY_LENGTH) throw badInput(field, `${field} must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  if (!PRINTABLE_ASCII.test(value)) throw badInput(field, `${field} must be printable ASCII characters only`);
  return value;
}

/**
 * The fingerprint of a create: sha256 over the validated content and the images in order (a
 * stored image by its id, inline bytes by their own sha256). The transport does not count: the
 * same ticket sent over GraphQL and then over the legacy endpoint is the same request.
 */
export function createFingerprint(content: string, images: readonly ImageRef[]): string {
  const imageParts = images.map((image) =>
    image.kind === 'stored' ? `stored:${image.id}` : `inline:${createHash('sha256').update(image.bytes).digest('hex')}`,
  );
  return createHash('sha256')
    .update(JSON.stringify(['createTicket', content, imageParts]))
    .digest('hex');
}

/** A create that carries a key: who, which key, which request. */
export interface IdempotentCreate {
  readonly userId: number;
  readonly key: string;
  readonly fingerprint: string;
}

/** The outcome of a claim: this transaction owns the key, or an earlier create already did. */
export type ClaimResult = { readonly claimed: true } | { readonly claimed: false; readonly ticketId: string };

/**
 * Claims `request.key` for `ticketId` inside the create's transaction (`tem`). Expired keys of
 * the user are deleted first (`skip locked`: rows another transaction is deleting are left to
 * it, so two creates never wait on each other here). Throws CONFLICT when the key was used for a
 * different request.
 */
export async function claimIdempotencyKey(tem: EntityManager, request: IdempotentCreate, ticketId: string): Promise<ClaimResult> {
  const run = <T>(sql: string, params: unknown[]) => execute<T[]>(tem, sql, params);
  await run(
    `delete from idempotency_keys where (user_id, key) in (
       select user_id, key from idempotency_keys
       where user_id = ? and created_at < now() - make_interval(hours => ?)
       for update skip locked)`,
    [request.userId, IDEMPOTENCY_KEY_RETENTION_HOURS],
  );
  // A row seen as conflicting can vanish before it is read only if it expired and another
  // create deleted it meanwhile: then claiming again is right. Twice is plenty.
  for (let attempt = 0; attempt < 3; attempt++) {
    const inserted = await run<{ ticket_id: string }>(
      `insert into idempotency_keys (user_id, key, fingerprint, ticket_id) values (?, ?, ?, ?)
       on conflict (user_id, key) do nothing returning ticket_id`,
      [request.userId, request.key, request.fingerprint, ticketId],
    );
    if (inserted.length) return { claimed: true };
    const [earlier] = await run<{ fingerprint: string; ticket_id: string }>(
      'select fingerprint, ticket_id from idempotency_keys where user_id = ? and key = ?',
      [request.userId, request.key],
    );
    if (!earlier) continue;
    if (earlier.fingerprint !== request.fingerprint) {
      throw conflict(`This ${IDEMPOTENCY_KEY_HEADER} was already used for a different request: use a new key for a new ticket`);
    }
    return { claimed: false, ticketId: earlier.ticket_id };
  }
  throw conflict(`This ${IDEMPOTENCY_KEY_HEADER} is being reused concurrently: retry the request`);
}
