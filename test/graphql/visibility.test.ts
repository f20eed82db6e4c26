import { randomUUID } from 'node:crypto';
import { DATABASES, startServer, type TestServer, type TestUser } from '../support/server';
import { createTicketAs, errorCode, gql, gqlOk, walkTo, type StatusName } from '../support/http';

/**
 * Who sees what (docs/contract.md "Who sees what"), through `ticket` and `tickets`: a list and a detail must
 * agree for every viewer. The tickets are made once, oldest first in the order below, so every
 * expected list is written out newest first.
 */

type Fixture = { key: string; owner: keyof TestServer['users']; staff?: keyof TestServer['users']; status: StatusName };

const FIXTURES: Fixture[] = [
  { key: 'c1', owner: 'customer', status: 'NEW' },
  { key: 'c2', owner: 'customer', staff: 'staff', status: 'ASSIGNED' },
  { key: 'c3', owner: 'customer', staff: 'staff', status: 'CLOSED' },
  { key: 'o1', owner: 'otherCustomer', status: 'NEW' },
  { key: 'o2', owner: 'otherCustomer', staff: 'otherStaff', status: 'IN_PROCESSING' },
  { key: 'o3', owner: 'otherCustomer', staff: 'staff', status: 'FIXED' },
  { key: 'm1', owner: 'multi', status: 'NEW' }, // multi as a customer
  { key: 'm2', owner: 'customer', staff: 'multi', status: 'REQUEST_INFORMATION' }, // multi as staff
];

const LIST = `query($filter: TicketFilter) { tickets(filter: $filter, first: 100) { totalCount edges { node { id } } } }`;

describe.each(DATABASES)('visibility of ticket and tickets (%s)', (kind) => {
  let server: TestServer;
  const ids: Record<string, string> = {};
  /** Fixture keys → ids, in the order given (callers write them newest first). */
  const idsOf = (...keys: string[]) => keys.map((key) => ids[key]);

  const list = async (user: TestUser, filter?: Record<string, unknown>) => {
    const data = await gqlOk(server, user, LIST, { filter });
    const got: string[] = data.tickets.edges.map((edge: { node: { id: string } }) => edge.node.id);
    expect(data.tickets.totalCount).toBe(got.length);
    return got;
  };
  const detail = (user: TestUser, id: string) => gql(server, user, 'query($id: ID!) { ticket(id: $id) { id status } }', { id });

  beforeAll(async () => {
    server = await startServer(kind);
    const { users } = server;
    // Sequential on purpose: creation order is the list order.
    for (const fixture of FIXTURES) {
      const id = await createTicketAs(server, users[fixture.owner], `ticket ${fixture.key}`);
      const staff = users[fixture.staff ?? 'staff'];
      await walkTo(server, id, fixture.status, { owner: users[fixture.owner], staff, scheduler: users.scheduler });
      ids[fixture.key] = id;
    }
  });
  afterAll(() => server?.close());

  it('a customer sees their own tickets, in any status, newest first', async () => {
    expect(await list(server.users.customer)).toEqual(idsOf('m2', 'c3', 'c2', 'c1'));
    expect((await detail(server.users.customer, ids.c3)).data?.ticket).toEqual({ id: ids.c3, status: 'CLOSED' });
  });

  it("another customer's ticket is FORBIDDEN to read and absent from the list", async () => {
    const { customer, otherCustomer } = server.users;
    for (const key of ['o1', 'o2', 'o3']) {
      const result = await detail(customer, ids[key]);
      expect(errorCode(result)).toBe('FORBIDDEN');
      expect(result.errors?.[0].message).toBe('You are not allowed to check this ticket');
      expect(result.data?.ticket ?? null).toBeNull();
    }
    expect(await list(otherCustomer)).toEqual(idsOf('o3', 'o2', 'o1'));
    expect(errorCode(await detail(otherCustomer, ids.c1))).toBe('FORBIDDEN');
  });

  it('staff see the tickets assigned to them (also FIXED and CLOSED), never a NEW one or one of another staff member', async () => {
    const { staff, otherStaff } = server.users;
    expect(await list(staff)).toEqual(idsOf('o3', 'c3', 'c2'));
    expect(await list(otherStaff)).toEqual(idsOf('o2'));
    for (const key of ['c1', 'o1', 'm1', 'o2', 'm2']) {
      expect([key, errorCode(await detail(staff, ids[key]))]).toEqual([key, 'FORBIDDEN']);
    }
    expect((await detail(staff, ids.o3)).data?.ticket).toEqual({ id: ids.o3, status: 'FIXED' });
  });

  it('a scheduler sees every ticket', async () => {
    expect(await list(server.users.scheduler)).toEqual(idsOf('m2', 'm1', 'o3', 'o2', 'o1', 'c3', 'c2', 'c1'));
    for (const key of Object.keys(ids)) expect(errorCode(await detail(server.users.scheduler, ids[key]))).toBeUndefined();
  });

  it('a user with several roles sees the union, and filter.as narrows it to one role', async () => {
    const { multi } = server.users;
    expect(await list(multi)).toEqual(idsOf('m2', 'm1'));
    expect(await list(multi, { as: 'CUSTOMER' })).toEqual(idsOf('m1'));
    expect(await list(multi, { as: 'STAFF' })).toEqual(idsOf('m2'));
    expect(errorCode(await detail(multi, ids.m1))).toBeUndefined();
    expect(errorCode(await detail(multi, ids.m2))).toBeUndefined();
    expect(errorCode(await detail(multi, ids.c2))).toBe('FORBIDDEN');
  });

  it.each([
    ['customer', 'STAFF', 'You are not allowed to list tickets as staff'],
    ['customer', 'SCHEDULER', 'You are not allowed to list tickets as scheduler'],
    ['staff', 'CUSTOMER', 'You are not allowed to list tickets as customer'],
    ['scheduler', 'STAFF', 'You are not allowed to list tickets as staff'],
    ['multi', 'SCHEDULER', 'You are not allowed to list tickets as scheduler'],
  ] as const)('%s listing as %s (a role not held) is FORBIDDEN', async (name, role, message) => {
    const result = await gql(server, server.users[name], LIST, { filter: { as: role } });
    expect(errorCode(result)).toBe('FORBIDDEN');
    expect(result.errors?.[0].message).toBe(message);
    // totalCount alone asks the same question.
    const count = await gql(server, server.users[name], 'query($filter: TicketFilter) { tickets(filter: $filter) { totalCount } }', { filter: { as: role } });
    expect(errorCode(count)).toBe('FORBIDDEN');
  });

  it('the admin (every role) acting as a customer sees only what it filed: nothing', async () => {
    expect(await list(server.users.admin, { as: 'CUSTOMER' })).toEqual([]);
    expect(await list(server.users.admin, { as: 'SCHEDULER' })).toHaveLength(FIXTURES.length);
  });

  it('filter.status narrows by statuses, and totalCount counts the filtered set', async () => {
    const { scheduler, customer, staff } = server.users;
    expect(await list(scheduler, { status: ['NEW'] })).toEqual(idsOf('m1', 'o1', 'c1'));
    expect(await list(scheduler, { status: ['CLOSED', 'FIXED', 'IN_PROCESSING'] })).toEqual(idsOf('o3', 'o2', 'c3'));
    expect(await list(customer, { status: ['NEW', 'ASSIGNED'] })).toEqual(idsOf('c2', 'c1'));
    expect(await list(staff, { status: ['NEW'] })).toEqual([]);
    expect(await list(scheduler, { status: ['CANCEL'] })).toEqual([]);
    expect(await list(customer, { status: ['CLOSED'], as: 'CUSTOMER' })).toEqual(idsOf('c3'));
  });

  it('ticket(id): NOT_FOUND for an unknown UUID, BAD_USER_INPUT for a malformed id, case-insensitive ids', async () => {
    const { scheduler } = server.users;
    const missing = await detail(scheduler, randomUUID());
    expect(errorCode(missing)).toBe('NOT_FOUND');
    expect(missing.status).toBeLessThan(500);
    for (const bad of ['nope', '42', `${ids.c1}x`, ids.c1.replace(/-/g, ''), '', ' ']) {
      const result = await detail(scheduler, bad);
      expect([bad, errorCode(result)]).toEqual([bad, 'BAD_USER_INPUT']);
      expect(result.errors?.[0].extensions?.field).toBe('id');
    }
    expect((await detail(scheduler, ids.c1.toUpperCase())).data?.ticket).toEqual({ id: ids.c1, status: 'NEW' });
  });

  it('an unknown ticket is NOT_FOUND even for a viewer who could not see it', async () => {
    expect(errorCode(await detail(server.users.otherStaff, randomUUID()))).toBe('NOT_FOUND');
  });

  // Last: it moves a ticket, which the exact lists above do not expect.
  it('a staff member loses a ticket when it is reassigned, and the new assignee gains it', async () => {
    const { staff, otherStaff, scheduler } = server.users;
    expect(await list(staff)).toContain(ids.c2);
    await gqlOk(server, scheduler, 'mutation($id: ID!, $staffId: ID!) { assignTicket(id: $id, staffId: $staffId) { id } }', {
      id: ids.c2,
      staffId: String(otherStaff.id),
    });
    expect(await list(staff)).toEqual(idsOf('o3', 'c3'));
    expect(errorCode(await detail(staff, ids.c2))).toBe('FORBIDDEN');
    expect(await list(otherStaff)).toEqual(idsOf('o2', 'c2'));
    expect((await detail(otherStaff, ids.c2)).data?.ticket).toEqual({ id: ids.c2, status: 'ASSIGNED' });
    // The old assignee may no longer act on it either.
    const refused = await gql(server, staff, 'mutation($id: ID!) { fixTicket(id: $id) { id } }', { id: ids.c2 });
    expect(errorCode(refused)).toBe('FORBIDDEN');
  });
});
