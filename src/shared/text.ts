import { badInput } from './errors';

/** docs/contract.md "Limits": ticket content and reply text are 1 to 65,536 characters. */
export const MAX_TEXT_LENGTH = 65_536;

/**
 * Validates free text from outside: a string of 1 to 65,536 characters (code points, so an emoji
 * counts once), not blank, and without NUL, which PostgreSQL text cannot store.
 */
export function validateText(value: unknown, field: string): string {
  if (typeof value !== 'string') throw badInput(field, `${field} must be a string`);
  if (value.trim().length === 0) throw badInput(field, `${field} must not be empty`);
  // Cheap bound first: a string of more UTF-16 units than twice the limit is surely too long.
  if (value.length > MAX_TEXT_LENGTH * 2 || countCodePoints(value) > MAX_TEXT_LENGTH) {
    throw badInput(field, `${field} must be at most ${MAX_TEXT_LENGTH} characters`);
  }
  if (value.includes('\u0000')) throw badInput(field, `${field} must not contain NUL characters`);
  return value;
}

function countCodePoints(value: string): number {
  let count = 0;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    // A high surrogate followed by a low one is a single character.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < value.length) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}
