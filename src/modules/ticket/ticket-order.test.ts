import { DomainError } from '../../shared/errors';
import { decodeTicketCursor, encodeTicketCursor, NEWEST_FIRST, OrderDirection, TicketOrderField, type TicketOrder } from './ticket-order';

const ID = '0190aaaa-0000-7000-8000-000000000000';
const ORDERS: TicketOrder[] = Object.values(TicketOrderField).flatMap((field) => Object.values(OrderDirection).map((direction) => ({ field, direction })));
const raw = (text: string) => Buffer.from(text).toString('base64url');

describe('ticket cursors', () => {
  it.each(ORDERS)('round-trips under %o', (order) => {
    const key = order.field === TicketOrderField.STATUS ? 6 : 1_733_100_000_123;
    expect(decodeTicketCursor(encodeTicketCursor(order, { key, id: ID }), order, 'after')).toEqual({ key, id: ID });
  });

  it.each(ORDERS.flatMap((from) => ORDERS.filter((to) => to !== from).map((to) => [from, to] as const)))(
    'a cursor of %o is refused under %o, naming the field and both orderings',
    (from, to) => {
      const cursor = encodeTicketCursor(from, { key: 3, id: ID });
      expect(() => decodeTicketCursor(cursor, to, 'before')).toThrow(DomainError);
      expect(() => decodeTicketCursor(cursor, to, 'before')).toThrow(`ordering ${from.field} ${from.direction}, not of ${to.field} ${to.direction}`);
    },
  );

  it.each([
    ['empty', ''],
    ['not base64url', 'a+b/c='],
    ['too long', 'A'.repeat(201)],
    ['the old id-only format', raw(`ticket:${ID}`)],
    ['too few parts', raw(`ticket2:CREATED_AT:DESC:${ID}`)],
    ['too many parts', raw(`ticket2:CREATED_AT:DESC:1:${ID}:x`)],
    ['an unknown field', raw(`ticket2:PRIORITY:DESC:1:${ID}`)],
    ['an unknown direction', raw(`ticket2:CREATED_AT:UP:1:${ID}`)],
    ['a key that is not an integer', raw(`ticket2:CREATED_AT:DESC:1.5:${ID}`)],
    ['a key with a leading zero', raw(`ticket2:CREATED_AT:DESC:01:${ID}`)],
    ['a key beyond any date', raw(`ticket2:CREATED_AT:DESC:8640000000000001:${ID}`)],
    ['an id that is no UUID', raw('ticket2:CREATED_AT:DESC:1:not-a-uuid')],
  ])('%s is BAD_INPUT naming the field', (_, cursor) => {
    try {
      decodeTicketCursor(cursor, NEWEST_FIRST, 'after');
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).details.field).toBe('after');
    }
  });

  it.each([0, 9, -1])('a STATUS key of %i is refused', (key) => {
    const order = { field: TicketOrderField.STATUS, direction: OrderDirection.ASC };
    expect(() => decodeTicketCursor(raw(`ticket2:STATUS:ASC:${key}:${ID}`), order, 'after')).toThrow(DomainError);
  });

  it('ids come back lower-case', () => {
    expect(decodeTicketCursor(raw(`ticket2:CREATED_AT:DESC:5:${ID.toUpperCase()}`), NEWEST_FIRST, 'after').id).toBe(ID);
  });
});
