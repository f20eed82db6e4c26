import { badInput } from '../../shared/errors';
import { isUuid } from '../../shared/uuid';

/** What `tickets(orderBy)` sorts by. Ties are broken by the ticket id, in the same direction. */
export enum TicketOrderField {
  /** When the ticket was filed. */
  CREATED_AT = 'CREATED_AT',
  /** When the ticket last changed in a way subscribers see (transition, edit, reply added or deleted). */
  UPDATED_AT = 'UPDATED_AT',
  /** The docs/contract.md status code: NEW 1, ASSIGNED 2, FIXED 3, CLOSED 4, REOPEN 5, REQUEST_INFORMATION 6, CANCEL 7, IN_PROCESSING 8. */
  STATUS = 'STATUS',
}

export enum OrderDirection {
  ASC = 'ASC',
  DESC = 'DESC',
}

export interface TicketOrder {
  readonly field: TicketOrderField;
  readonly direction: OrderDirection;
}

/** Newest first: the default of `tickets`. */
export const NEWEST_FIRST: TicketOrder = { field: TicketOrderField.CREATED_AT, direction: OrderDirection.DESC };

/**
 * A place in an ordering: the sort key of a ticket (epoch milliseconds for the two dates, the
 * status code for STATUS) and its id. Keyset paging continues strictly after or before it, so a
 * page stays put while tickets are created or change around it.
 */
export interface TicketPosition {
  readonly key: number;
  readonly id: string;
}

const PREFIX = 'ticket2';
/** The largest time a JavaScript Date holds. */
const MAX_DATE_MS = 8.64e15;
const FIELDS = new Set<string>(Object.values(TicketOrderField));
const DIRECTIONS = new Set<string>(Object.values(OrderDirection));
/** Longest cursor this API issues is about 110 characters; anything far longer is not one. */
const MAX_CURSOR_LENGTH = 200;

/**
 * Opaque cursors: base64url of `ticket2:<field>:<direction>:<key>:<id>`. The ordering is part of
 * the cursor so one issued under another ordering is refused rather than silently misread.
 */
export function encodeTicketCursor(order: TicketOrder, position: TicketPosition): string {
  return Buffer.from(`${PREFIX}:${order.field}:${order.direction}:${position.key}:${position.id}`).toString('base64url');
}

/** The position a cursor encodes; BAD_INPUT naming `field` unless this API issued it for `order`. */
export function decodeTicketCursor(cursor: string, order: TicketOrder, field: string): TicketPosition {
  const invalid = () => badInput(field, `${field} is not a cursor this API returned`);
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  const parts = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  if (parts.length !== 5 || parts[0] !== PREFIX || !FIELDS.has(parts[1]) || !DIRECTIONS.has(parts[2])) throw invalid();
  const [, cursorField, cursorDirection, keyText, id] = parts;
  if (cursorField !== order.field || cursorDirection !== order.direction) {
    throw badInput(
      field,
      `${field} is a cursor of the ordering ${cursorField} ${cursorDirection}, not of ${order.field} ${order.direction}: ` +
        'start again without a cursor when you change the ordering',
    );
  }
  if (!/^-?(0|[1-9][0-9]{0,15})$/.test(keyText) || !isUuid(id)) throw invalid();
  const key = Number(keyText);
  const inRange = order.field === TicketOrderField.STATUS ? key >= 1 && key <= 8 : Math.abs(key) <= MAX_DATE_MS;
  if (!Number.isSafeInteger(key) || !inRange) throw invalid();
  return { key, id: id.toLowerCase() };
}
