import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { assemble, inIdOrder, INCLUDE_ALL, type ReadRow } from './ticket.query';

/** A UUID's canonical text (lower-case hex, hyphenated) from its 16 bytes. */
const uuidText = (bytes: Buffer): string => {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

/** PostgreSQL's order of the uuid type: its 16 bytes, compared unsigned, first to last. */
const byBytes = (a: { bytes: Buffer }, b: { bytes: Buffer }): number => Buffer.compare(a.bytes, b.bytes);

describe('inIdOrder (the read statement does not sort: assemble puts entries in id order)', () => {
  it('orders any entries as PostgreSQL orders their uuid ids', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { maxLength: 40 }), (ids) => {
        const entries = ids.map((raw) => ({ bytes: Buffer.from(raw), id: uuidText(Buffer.from(raw)) }));
        const expected = [...entries].sort(byBytes).map((entry) => entry.id);
        expect(inIdOrder([...entries]).map((entry) => entry.id)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('leaves entries that arrived in order as they are, the same array', () => {
    const entries = Array.from({ length: 10 }, () => randomBytes(16))
      .sort(Buffer.compare)
      .map((bytes, index) => ({ id: uuidText(bytes), index }));
    const same = inIdOrder(entries);
    expect(same).toBe(entries);
    expect(same.map((entry) => entry.index)).toEqual([...Array(10).keys()]);
    expect(inIdOrder([])).toEqual([]);
  });
});

describe("assemble (the read statement's rows, which arrive in no particular order)", () => {
  // Rows as the statement sends them: kind, id, status, text, list, user_id, scheduler_id,
  // staff_id, created_at, updated_at, ticket_id, ord. Tickets 11 to 13 of an ordering (a page
  // read with an offset of 10), two replies and a history entry each, three users.
  const ticketId = (n: number) => `0193a000-0000-7000-8000-0000000000${n}`;
  const entryId = (n: number, k: number) => `0193b${n}00-0000-7000-8000-00000000000${k}`;
  const rows: ReadRow[] = [
    ...[1, 2, 3].map((n) => [0, ticketId(n), 2, `ticket ${n}`, null, 1, 2, n === 2 ? null : 3, 1000 + n, 2000 + n, null, 10 + n]),
    ...[1, 2, 3].flatMap((n) => [1, 2].map((k) => [1, entryId(n, k), null, `reply ${n}.${k}`, null, 1, null, null, 3000 + k, null, ticketId(n), null])),
    ...[1, 2, 3].map((n) => [2, entryId(n, 9), 2, null, null, 2, null, null, 4000, null, ticketId(n), null]),
    ...[1, 2, 3].map((id) => [3, null, null, `user ${id}`, ['CUSTOMER'], id, null, null, null, null, null, null]),
  ];
  const inOrder = assemble(rows, INCLUDE_ALL);

  it('builds the page in rank order, entries by id, users shared', () => {
    expect(inOrder.map((ticket) => ticket.content)).toEqual(['ticket 1', 'ticket 2', 'ticket 3']);
    expect(inOrder[0]!.replies!.map((reply) => reply.content)).toEqual(['reply 1.1', 'reply 1.2']);
    expect(inOrder[1]!.staff).toBeNull();
    expect(inOrder[2]!.history![0]!.actor).toBe(inOrder[2]!.scheduler);
  });

  it('gives the same views whatever order the rows arrive in', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(rows, { minLength: rows.length, maxLength: rows.length }), (shuffled) => {
        expect(assemble(shuffled, INCLUDE_ALL)).toEqual(inOrder);
      }),
      { numRuns: 300 },
    );
  });
});
