import { DATABASES, startServer, type TestServer, type TestUser } from '../support/server';
import { createTicketAs, errorCode, gql, gqlOk, walkTo, defaultActors } from '../support/http';

/**
 * `tickets` as a Relay connection: newest first, keyset cursors, pages that tile the list with no
 * overlap and no gap, `pageInfo` and `totalCount` right on every page, and bad paging arguments
 * answered with BAD_USER_INPUT.
 */

const PAGE = `query($first: Int, $after: String, $filter: TicketFilter) {
  tickets(first: $first, after: $after, filter: $filter) {
    totalCount
    edges { cursor node { id } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface Page {
  totalCount: number;
  edges: Array<{ cursor: string; node: { id: string } }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const CUSTOMER_TICKETS = 23;

describe.each(DATABASES)('pagination of tickets (%s)', (kind) => {
  let server: TestServer;
  /** The customer's tickets, newest first. */
  let newestFirst: string[];

  const page = async (user: TestUser, variables: Record<string, unknown>): Promise<Page> => (await gqlOk(server, user, PAGE, variables)).tickets;

  /** Follows endCursor until hasNextPage is false; checks each page's invariants on the way. */
  async function walk(user: TestUser, first: number, filter?: Record<string, unknown>): Promise<{ ids: string[]; pages: Page[] }> {
    const pages: Page[] = [];
    let after: string | null = null;
    for (;;) {
      const current = await page(user, { first, after, filter });
      pages.push(current);
      expect(current.edges.length).toBeLessThanOrEqual(first);
      expect(current.pageInfo.endCursor).toBe(current.edges.at(-1)?.cursor ?? null);
      if (!current.pageInfo.hasNextPage) break;
      expect(current.edges).toHaveLength(first);
      after = current.pageInfo.endCursor;
      if (pages.length > 50) throw new Error('pagination does not end');
    }
    return { ids: pages.flatMap((p) => p.edges.map((edge) => edge.node.id)), pages };
  }

  beforeAll(async () => {
    server = await startServer(kind);
    const { customer, otherCustomer } = server.users;
    const created: string[] = [];
    // Sequential: creation order is what "newest first" is checked against. Another customer's
    // tickets are interleaved; they must never show up in the customer's pages.
    for (let i = 0; i < CUSTOMER_TICKETS; i++) {
      created.push(await createTicketAs(server, customer, `ticket ${i}`));
      if (i % 5 === 0) await createTicketAs(server, otherCustomer, `other ${i}`);
    }
    newestFirst = created.reverse();
    // A few statuses to page through with a filter.
    const actors = defaultActors(server);
    await Promise.all(
      newestFirst
        .slice(0, 12)
        .filter((_, i) => i % 2 === 0)
        .map((id) => walkTo(server, id, 'ASSIGNED', actors)),
    );
  });
  afterAll(() => server?.close());

  it.each([1, 5, 7, 22, 23, 100])('walks every page with first: %i, newest first, with no overlap and no gap', async (first) => {
    const { ids, pages } = await walk(server.users.customer, first);
    expect(ids).toEqual(newestFirst);
    expect(new Set(ids).size).toBe(ids.length);
    expect(pages).toHaveLength(Math.ceil(CUSTOMER_TICKETS / first));
    for (const p of pages) expect(p.totalCount).toBe(CUSTOMER_TICKETS);
    expect(pages.map((p) => p.pageInfo.hasNextPage)).toEqual(pages.map((_, i) => i < pages.length - 1));
  });

  it('pages with a status filter tile the filtered list, and totalCount counts it', async () => {
    const assigned = newestFirst.slice(0, 12).filter((_, i) => i % 2 === 0);
    const { ids, pages } = await walk(server.users.customer, 4, { status: ['ASSIGNED'] });
    expect(ids).toEqual(assigned);
    for (const p of pages) expect(p.totalCount).toBe(assigned.length);
    const rest = await walk(server.users.customer, 4, { status: ['NEW'] });
    expect(rest.ids).toEqual(newestFirst.filter((id) => !assigned.includes(id)));
  });

  it("a scheduler pages through every ticket, the other customer's included", async () => {
    const { ids, pages } = await walk(server.users.scheduler, 10);
    const total = CUSTOMER_TICKETS + Math.ceil(CUSTOMER_TICKETS / 5);
    expect(ids).toHaveLength(total);
    expect(new Set(ids).size).toBe(total);
    expect(pages[0].totalCount).toBe(total);
    expect(ids.filter((id) => newestFirst.includes(id))).toEqual(newestFirst);
  });

  it('defaults to 20 per page', async () => {
    const first = await page(server.users.customer, {});
    expect(first.edges.map((edge) => edge.node.id)).toEqual(newestFirst.slice(0, 20));
    expect(first.pageInfo.hasNextPage).toBe(true);
  });

  it('after the last page: no edges, no next page, a null endCursor', async () => {
    const all = await page(server.users.customer, { first: 100 });
    const beyond = await page(server.users.customer, { first: 5, after: all.pageInfo.endCursor });
    expect(beyond).toEqual({ totalCount: CUSTOMER_TICKETS, edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('an empty list has no edges, no next page and a zero totalCount', async () => {
    expect(await page(server.users.staff, { first: 5, filter: { status: ['CLOSED'] } })).toEqual({
      totalCount: 0,
      edges: [],
      pageInfo: { hasNextPage: false, endCursor: null },
    });
  });

  it('a cursor keeps its place when newer tickets arrive meanwhile (keyset, not offset)', async () => {
    const { otherCustomer, scheduler } = server.users;
    const all = (await page(scheduler, { first: 100 })).edges.map((edge) => edge.node.id);
    const first = await page(scheduler, { first: 6 });
    // A new ticket would shift an offset-based second page back by one.
    await createTicketAs(server, otherCustomer, 'arrives while paging');
    const second = await page(scheduler, { first: 6, after: first.pageInfo.endCursor });
    expect(first.edges.map((edge) => edge.node.id)).toEqual(all.slice(0, 6));
    expect(second.edges.map((edge) => edge.node.id)).toEqual(all.slice(6, 12));
    expect(second.totalCount).toBe(all.length + 1);
  });

  it.each([
    ['0', 0],
    ['101', 101],
    ['-1', -1],
  ])('first: %s is BAD_USER_INPUT naming first', async (_, first) => {
    const result = await gql(server, server.users.customer, PAGE, { first });
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0].extensions?.field).toBe('first');
    expect(result.errors?.[0].message).toMatch(/first/);
  });

  it.each([
    ['a float', 2.5],
    ['a string', 'ten'],
    ['too large for Int', 2 ** 31],
  ])('first as %s is BAD_USER_INPUT (GraphQL coercion), not a 500', async (_, first) => {
    const result = await gql(server, server.users.customer, PAGE, { first });
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    expect(result.status).toBe(400);
  });

  it.each([
    ['garbage', 'garbage'],
    ['punctuation', '!!!***'],
    ['a cursor-shaped non-UUID', Buffer.from('ticket:not-a-uuid').toString('base64url')],
    ['another prefix', Buffer.from('user:0190aaaa-0000-7000-8000-000000000000').toString('base64url')],
    ['a bare UUID', '0190aaaa-0000-7000-8000-000000000000'],
  ])('after: %s is BAD_USER_INPUT naming after', async (_, after) => {
    const result = await gql(server, server.users.customer, PAGE, { first: 5, after });
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0].extensions?.field).toBe('after');
  });

  it('after as a number is BAD_USER_INPUT (GraphQL coercion)', async () => {
    const result = await gql(server, server.users.customer, PAGE, { first: 5, after: 12 });
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
  });
});
