import { DATABASES, startServer, type TestServer, type TestUser } from '../support/server';
import { TicketOperation } from '../../src/modules/ticket/ticket.rules';
import { errorCode, gql, gqlOk, TICKET_FIELDS } from '../support/http';

/**
 * Reads are the hot path (issue 2, item 6): a page of tickets with replies, history, users,
 * permission flags and totalCount costs a fixed number of SQL statements whatever its size, and
 * so does one ticket's detail whatever its number of replies. `server.queries` records every
 * statement the ORM sends.
 */

const TICKET_COUNT = 52;

const PAGE = `query($first: Int, $after: String) {
  tickets(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { ${TICKET_FIELDS} } }
  }
}`;

const DETAIL = `query($id: ID!) { ticket(id: $id) { ${TICKET_FIELDS} } }`;

/** Runs `work` with the concurrency bounded, so setup is quick without flooding PGlite's one connection. */
async function inBatches<T>(items: readonly T[], size: number, work: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(work));
}

describe.each(DATABASES)('SQL statements per read (%s)', (kind) => {
  let server: TestServer;
  /** Ids of the tickets `customer` filed (the others belong to `otherCustomer`). */
  let customerTicketIds: string[];

  /** Waits until no statement has been sent for a moment (background work after writes settles). */
  async function quiet(): Promise<void> {
    let seen = -1;
    while (server.queries.length !== seen) {
      seen = server.queries.length;
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
  }

  /** Statements `run` sends, after a warm-up that lets the viewer's credential be verified and cached. */
  async function statementsOf(user: TestUser, run: () => Promise<unknown>): Promise<string[]> {
    await gqlOk(server, user, '{ me { id } }');
    await quiet();
    server.queries.length = 0;
    await run();
    // Live updates read the event log on their own (after writes, and every few seconds on a
    // shared bus); those statements are not the request's, whenever they land.
    return server.queries.filter((sql) => !/\bticket_events\b/.test(sql));
  }

  async function pageStatements(user: TestUser, first: number): Promise<{ statements: string[]; edges: number; totalCount: number }> {
    let data: Record<string, any> = {};
    const statements = await statementsOf(user, async () => {
      data = await gqlOk(server, user, PAGE, { first });
    });
    return { statements, edges: data.tickets.edges.length, totalCount: data.tickets.totalCount };
  }

  beforeAll(async () => {
    server = await startServer(kind);
    // Seeded through the domain services rather than HTTP: this file measures reads, and 200
    // write round trips over HTTP would only slow it down. The writes take the same path either way.
    const { services, database } = server.app;
    const em = () => database.orm.em.fork();
    const viewer = (user: TestUser) => ({ id: user.id, username: user.username, roles: user.roles, isAdmin: false });
    const { customer, otherCustomer, scheduler, staff } = server.users;
    customerTicketIds = [];
    await inBatches(
      Array.from({ length: TICKET_COUNT }, (_, i) => i),
      8,
      async (i) => {
        const owner = i % 3 === 2 ? otherCustomer : customer;
        const id = await services.tickets.create(em(), viewer(owner), { content: `ticket ${i}` });
        if (owner === customer) customerTicketIds.push(id);
        await services.replies.add(em(), viewer(owner), id, 'from the customer');
        await services.tickets.transition(em(), viewer(scheduler), id, TicketOperation.ASSIGN, { staffId: staff.id });
        await services.replies.add(em(), viewer(scheduler), id, 'from the scheduler, 调度员');
      },
    );
  });
  afterAll(() => server?.close());

  it.each(['scheduler', 'customer', 'staff'] as const)(
    'a page of 5 and a page of 50 with replies, history, users, flags and totalCount cost the same few statements (%s)',
    async (name) => {
      const user = server.users[name];
      const small = await pageStatements(user, 5);
      const large = await pageStatements(user, 50);
      expect(small.edges).toBe(5);
      expect(large.edges).toBe(Math.min(50, large.totalCount));
      if (name === 'scheduler') expect(large.edges).toBe(50);
      // Print the statements when the counts differ, so a regression shows where it came from.
      expect({ count: large.statements.length, statements: large.statements }).toEqual({
        count: small.statements.length,
        statements: large.statements,
      });
      expect(small.statements.length).toBeGreaterThanOrEqual(1);
      expect(small.statements.length).toBeLessThanOrEqual(3);
    },
  );

  const FILTERED = `query($first: Int, $filter: TicketFilter, $orderBy: TicketOrder) {
    tickets(first: $first, filter: $filter, orderBy: $orderBy) {
      pageInfo { hasNextPage endCursor }
      edges { cursor node { ${TICKET_FIELDS} } }
    }
  }`;
  const STATS = `query($filter: TicketFilter) {
    ticketStats(filter: $filter) { total byStatus { status count } byStaff { staff { id username } count } }
  }`;

  it.each([
    [
      'every filter but search',
      {
        status: ['ASSIGNED'],
        staffId: 'STAFF',
        unassigned: false,
        customerId: 'CUSTOMER',
        createdAt: { gte: '2000-01-01T00:00:00Z' },
        updatedAt: { lt: '2999-01-01T00:00:00Z' },
      },
      { field: 'UPDATED_AT', direction: 'ASC' },
    ],
    ['search', { search: 'ticket' }, { field: 'STATUS', direction: 'DESC' }],
    ['search in replies, two terms', { search: 'scheduler from' }, undefined],
    ['search by two Chinese characters (the bigram indexes)', { search: '调度' }, undefined],
  ] as const)('a filtered page (%s) is one statement, its totalCount one more, its stats one, whatever the page size', async (_, rawFilter, orderBy) => {
    const { scheduler, staff, customer } = server.users;
    const filter = JSON.parse(JSON.stringify(rawFilter).replace('"STAFF"', `"${staff.id}"`).replace('"CUSTOMER"', `"${customer.id}"`));
    for (const user of [scheduler, customer, staff]) {
      let small: Record<string, any> = {};
      let large: Record<string, any> = {};
      const smallStatements = await statementsOf(user, async () => {
        small = await gqlOk(server, user, FILTERED, { first: 2, filter, orderBy });
      });
      const largeStatements = await statementsOf(user, async () => {
        large = await gqlOk(server, user, FILTERED, { first: 50, filter, orderBy });
      });
      expect(large.tickets.edges.length).toBeGreaterThan(small.tickets.edges.length);
      expect({ user: user.username, statements: smallStatements }).toEqual({ user: user.username, statements: [expect.stringMatching(/from tickets t/)] });
      expect(largeStatements).toHaveLength(1);
      const counted = await statementsOf(user, () =>
        gqlOk(server, user, FILTERED.replace('pageInfo {', 'totalCount pageInfo {'), { first: 50, filter, orderBy }),
      );
      expect(counted).toHaveLength(2);
      const stats = await statementsOf(user, () => gqlOk(server, user, STATS, { filter }));
      expect(stats).toHaveLength(1);
    }
  });

  it('the page really carries the nested data it was counted with', async () => {
    const { tickets } = await gqlOk(server, server.users.scheduler, PAGE, { first: 50 });
    for (const { node } of tickets.edges) {
      expect(node.replies).toHaveLength(2);
      expect(node.history.map((entry: { status: string }) => entry.status)).toEqual(['NEW', 'ASSIGNED']);
      expect(node.customer.username).toMatch(/customer/i);
      expect(node.staff.username).toBe('staff');
      expect(node.permissions.assign).toBe(true);
    }
    expect(tickets.totalCount).toBe(TICKET_COUNT);
  });

  it('every page of a walk costs the same', async () => {
    const user = server.users.scheduler;
    const counts: number[] = [];
    let after: string | null = null;
    do {
      let page: Record<string, any> = {};
      const statements = await statementsOf(user, async () => {
        page = await gqlOk(server, user, PAGE, { first: 20, after });
      });
      counts.push(statements.length);
      after = page.tickets.pageInfo.hasNextPage ? page.tickets.pageInfo.endCursor : null;
    } while (after);
    expect(counts).toHaveLength(Math.ceil(TICKET_COUNT / 20));
    expect(new Set(counts).size).toBe(1);
  });

  it('reads never load image bytes', async () => {
    const statements = await statementsOf(server.users.scheduler, () => gqlOk(server, server.users.scheduler, PAGE, { first: 50 }));
    expect(statements.filter((sql) => /\bfrom\s+"?images"?/i.test(sql))).toEqual([]);
  });

  it('one ticket costs the same few statements with 2 replies or 25', async () => {
    const { scheduler, customer } = server.users;
    const [few, busy] = customerTicketIds;
    // 23 more replies and two more history entries on one ticket.
    for (let i = 0; i < 23; i++) {
      await gqlOk(server, scheduler, 'mutation($id: ID!, $c: String!) { addReply(ticketId: $id, content: $c) { id } }', { id: busy, c: `reply ${i}` });
    }
    await gqlOk(server, scheduler, 'mutation($id: ID!) { requestInformation(id: $id) { id } }', { id: busy });
    await gqlOk(server, scheduler, 'mutation($id: ID!, $s: ID!) { assignTicket(id: $id, staffId: $s) { id } }', {
      id: busy,
      s: String(server.users.otherStaff.id),
    });

    const small = await statementsOf(scheduler, () => gqlOk(server, scheduler, DETAIL, { id: few }));
    let detail: Record<string, any> = {};
    const large = await statementsOf(scheduler, async () => {
      detail = await gqlOk(server, scheduler, DETAIL, { id: busy });
    });
    expect(detail.ticket.replies).toHaveLength(25);
    expect({ count: large.length, large, small }).toEqual({ count: small.length, large, small });
    expect(small.length).toBeLessThanOrEqual(2);

    // A refused read costs no more than an allowed one.
    const refused = await statementsOf(server.users.otherStaff, async () => {
      const result = await gql(server, server.users.otherStaff, DETAIL, { id: few });
      expect(errorCode(result)).toBe('FORBIDDEN');
    });
    expect(refused.length).toBeLessThanOrEqual(small.length);
    // The owner reads it at the same cost as the scheduler.
    const owner = await statementsOf(customer, () => gqlOk(server, customer, DETAIL, { id: few }));
    expect(owner.length).toBe(small.length);
  });
});
