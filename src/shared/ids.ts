import { badInput } from './errors';
import { isUuid } from './uuid';

/** A ticket, reply or image id from outside: a UUID, or BAD_INPUT naming the field. */
export function parseUuid(value: unknown, field: string): string {
  if (!isUuid(value)) throw badInput(field, `${field} must be a UUID`);
  return value.toLowerCase();
}

/** A user id from outside: a positive integer, as a number or a numeric string. */
export function parseUserId(value: unknown, field: string): number {
  const id = typeof value === 'string' && /^\s*\d{1,10}\s*$/.test(value) ? Number(value) : value;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0 || id > 2_147_483_647) {
    throw badInput(field, `${field} must be a positive integer user id`);
  }
  return id;
}
