import { badInput } from '../../shared/errors';

const PREFIX = 'event:';

/** Opaque event cursors: base64url of `event:<seq>`, so clients keep them without parsing them. */
export const encodeEventCursor = (seq: number): string => Buffer.from(PREFIX + seq).toString('base64url');

/** The seq a cursor encodes; BAD_INPUT naming `field` when it is not a cursor this API issued. */
export function decodeEventCursor(cursor: unknown, field: string): number {
  const invalid = () => badInput(field, `${field} is not an event cursor this API returned`);
  if (typeof cursor !== 'string' || cursor.length > 64 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^event:([1-9][0-9]{0,15})$/.exec(decoded);
  const seq = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(seq)) throw invalid();
  return seq;
}
