import { scopeIncludes, visibilityScope } from '../../src/modules/ticket/ticket.rules';
import { TicketStatus } from '../../src/modules/ticket/ticket-status';
import { Role } from '../../src/modules/user/role';
import { errorCode, gql, gqlOk } from '../support/http';
import { DATABASES, startServer, type FixtureName, type TestServer, type TestUser } from '../support/server';
import { FACT_FIELDS, seedFindingTickets, viewerOf, type TicketFacts } from '../support/finding-fixtures';

/**
 * Every filter of `tickets` alone and combined, for every role, against a model: the scheduler's
 * full list filtered in JavaScript by the rule table's own visibility and the filter's meaning.
 * `ticketStats` with the same filter must count exactly what paging through the list returns.
 */

const LIST = `query($filter: TicketFilter, $first: Int, $after: String) {
  tickets(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id } }
  }
}`;

const STATS = `query($filter: TicketFilter) {
  ticketStats(filter: $filter) { total byStatus { status count } byStaff { staff { id } count } }
}`;

type Filter = Record<string, unknown>;

const ROLES: FixtureName[] = ['customer', 'otherCustomer', 'staff', 'otherStaff', 'scheduler', 'multi'];

describe.each(DATABASES)('tickets filters (%s)', (kind) => {
  let server: TestServer;
  let all: TicketFacts[];
  let filters: Array<[string, Filter]>;

  beforeAll(async () => {
    server = await startServer(kind);
    await seedFindingTickets(server);
    all = (await gqlOk(server, server.users.scheduler, `{ tickets(first: 100) { edges { node { ${FACT_FIELDS} } } } }`)).tickets.edges.map(
      (edge: { node: TicketFacts }) => edge.node,
    );
    const { customer, staff, multi } = server.users;
    const created = all.map((t) => t.createdAt).sort();
    const updated = all.map((t) => t.updatedAt).sort();
    const midCreated = created[Math.floor(created.length / 2)];
    const midUpdated = updated[Math.floor(updated.length / 3)];
    filters = [
      ['none', {}],
      ['status', { status: ['ASSIGNED', 'IN_PROCESSING'] }],
      ['staffId', { staffId: String(staff.id) }],
      ['staffId (multi)', { staffId: String(multi.id) }],
      ['unassigned: true', { unassigned: true }],
      ['unassigned: false', { unassigned: false }],
      ['customerId', { customerId: String(customer.id) }],
      ['customerId (multi)', { customerId: String(multi.id) }],
      ['createdAt.gte', { createdAt: { gte: midCreated } }],
      ['createdAt.lt', { createdAt: { lt: midCreated } }],
      ['updatedAt range', { updatedAt: { gte: midUpdated, lt: updated[updated.length - 2] } }],
      ['search English', { search: 'printer' }],
      ['search Chinese', { search: '打印机' }],
      ['search two Chinese characters', { search: '打印' }],
      ['search two terms', { search: 'PRINTER   fire' }],
      ['search no match', { search: 'nothing matches this' }],
      ['search the text of a deleted reply', { search: '扫描仪' }],
      ['search a username', { search: 'otherCust' }],
      ['search literal % and _', { search: '100% pass_word' }],
      ['search a LIKE wildcard alone', { search: '%%' }],
      ['status + staffId + search', { status: ['ASSIGNED', 'FIXED', 'CLOSED', 'REOPEN'], staffId: String(staff.id), search: 'printer' }],
      ['customerId + unassigned: false + createdAt', { customerId: String(customer.id), unassigned: false, createdAt: { gte: created[2] } }],
      ['unassigned + search + status', { unassigned: true, search: '打印', status: ['NEW'] }],
      [
        'every filter',
        {
          status: ['ASSIGNED', 'IN_PROCESSING', 'FIXED', 'CLOSED', 'CANCEL', 'REQUEST_INFORMATION', 'REOPEN'],
          staffId: String(staff.id),
          unassigned: false,
          customerId: String(customer.id),
          createdAt: { gte: created[0] },
          updatedAt: { lt: '2999-01-01T00:00:00Z' },
          search: 'the',
        },
      ],
    ];
  });
  afterAll(() => server?.close());

  /** What `filter` must return to `user`, from the model. */
  function expected(user: TestUser, filter: Filter): TicketFacts[] {
    const viewer = viewerOf(user);
    const scope = visibilityScope(viewer, filter.as ? [filter.as as Role] : viewer.roles);
    const range = (value: string, r: { gte?: string; lt?: string } | undefined) =>
      (!r?.gte || Date.parse(value) >= Date.parse(r.gte)) && (!r?.lt || Date.parse(value) < Date.parse(r.lt));
    const terms =
      typeof filter.search === 'string'
        ? filter.search
            .split(/\s+/)
            .filter(Boolean)
            .map((t) => t.toLowerCase())
        : [];
    return all.filter((t) => {
      const facts = { status: t.status as TicketStatus, customerId: Number(t.customer.id), staffId: t.staff ? Number(t.staff.id) : null };
      if (!scopeIncludes(scope, facts)) return false;
      if (Array.isArray(filter.status) && !filter.status.includes(t.status)) return false;
      if (filter.staffId !== undefined && t.staff?.id !== filter.staffId) return false;
      if (filter.unassigned === true && t.staff !== null) return false;
      if (filter.unassigned === false && t.staff === null) return false;
      if (filter.customerId !== undefined && t.customer.id !== filter.customerId) return false;
      if (!range(t.createdAt, filter.createdAt as never) || !range(t.updatedAt, filter.updatedAt as never)) return false;
      const texts = [t.content, ...t.replies.map((r) => r.content)].map((text) => text.toLowerCase());
      return terms.every((term) => texts.some((text) => text.includes(term)));
    });
  }

  /** Every page of `filter` with pages of 4, checking each page's totalCount. */
  async function walk(user: TestUser, filter: Filter): Promise<{ ids: string[]; totalCount: number }> {
    const ids: string[] = [];
    let after: string | null = null;
    let totalCount = -1;
    for (let pages = 0; pages < 50; pages++) {
      const { tickets }: { tickets: any } = await gqlOk(server, user, LIST, { filter, first: 4, after });
      totalCount = tickets.totalCount;
      ids.push(...tickets.edges.map((edge: { node: { id: string } }) => edge.node.id));
      if (!tickets.pageInfo.hasNextPage) return { ids, totalCount };
      after = tickets.pageInfo.endCursor;
    }
    throw new Error('paging does not end');
  }

  it('the fixture covers what the filters need', () => {
    expect(new Set(all.map((t) => t.status)).size).toBe(8);
    expect(all.some((t) => t.staff === null)).toBe(true);
    expect(expected(server.users.scheduler, { search: '打印机' }).length).toBeGreaterThan(0);
    expect(expected(server.users.scheduler, { search: 'printer' }).some((t) => !t.content.toLowerCase().includes('printer'))).toBe(true);
    expect(expected(server.users.scheduler, { search: '100% pass_word' }).length).toBeGreaterThan(0);
  });

  it.each(ROLES)('as %s: every filter alone and combined returns exactly the model, newest first, and ticketStats counts it', async (name) => {
    const user = server.users[name];
    for (const [label, filter] of filters) {
      const want = expected(user, filter).map((t) => t.id);
      const { ids, totalCount } = await walk(user, filter);
      expect({ label, ids }).toEqual({ label, ids: want });
      expect({ label, totalCount }).toEqual({ label, totalCount: want.length });
      const { ticketStats } = await gqlOk(server, user, STATS, { filter });
      expect({ label, total: ticketStats.total }).toEqual({ label, total: want.length });
      const byStatus = Object.fromEntries(ticketStats.byStatus.map((s: { status: string; count: number }) => [s.status, s.count]));
      const wantByStatus = Object.fromEntries(Object.values(TicketStatus).map((s) => [s, expected(user, filter).filter((t) => t.status === s).length]));
      expect({ label, byStatus }).toEqual({ label, byStatus: wantByStatus });
      if (user.roles.includes(Role.SCHEDULER)) {
        const byStaff: Record<string, number> = {};
        for (const t of expected(user, filter)) byStaff[t.staff?.id ?? 'none'] = (byStaff[t.staff?.id ?? 'none'] ?? 0) + 1;
        const got = Object.fromEntries(ticketStats.byStaff.map((s: { staff: { id: string } | null; count: number }) => [s.staff?.id ?? 'none', s.count]));
        expect({ label, got }).toEqual({ label, got: byStaff });
      } else {
        expect(ticketStats.byStaff).toBeNull();
      }
    }
  });

  it.each([
    ['multi', Role.CUSTOMER],
    ['multi', Role.STAFF],
    ['scheduler', Role.SCHEDULER],
    ['staff', Role.STAFF],
  ] as const)('as %s acting as %s, alone and with other filters', async (name, role) => {
    const user = server.users[name];
    for (const [label, extra] of filters.slice(0, 8)) {
      const filter = { ...extra, as: role };
      const want = expected(user, filter).map((t) => t.id);
      expect({ label, ids: (await walk(user, filter)).ids }).toEqual({ label, ids: want });
      expect((await gqlOk(server, user, STATS, { filter })).ticketStats.total).toBe(want.length);
    }
  });

  it("a dispatcher's dashboard: one staff member's open tickets, oldest first, searched by a Chinese word, with counts by status", async () => {
    const { scheduler, multi } = server.users;
    const filter = { staffId: String(multi.id), status: ['ASSIGNED', 'IN_PROCESSING', 'REQUEST_INFORMATION', 'REOPEN'], search: '打印' };
    const want = expected(scheduler, filter)
      .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || (a.id < b.id ? -1 : 1))
      .map((t) => t.id);
    expect(want.length).toBeGreaterThan(0);
    const data = await gqlOk(
      server,
      scheduler,
      `query($filter: TicketFilter) {
        tickets(filter: $filter, orderBy: { field: CREATED_AT, direction: ASC }, first: 100) { totalCount edges { node { id } } }
        ticketStats(filter: $filter) { total byStatus { status count } }
      }`,
      { filter },
    );
    expect(data.tickets.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual(want);
    expect(data.tickets.totalCount).toBe(want.length);
    expect(data.ticketStats.total).toBe(want.length);
    const counted = data.ticketStats.byStatus.reduce((sum: number, s: { count: number }) => sum + s.count, 0);
    expect(counted).toBe(want.length);
  });

  it('byStaff is only for a viewer acting as scheduler: null for everyone else, whatever they filter by or act as', async () => {
    const { scheduler, staff, customer, multi } = server.users;
    const byStaffOf = async (user: TestUser, filter: Filter) => (await gqlOk(server, user, STATS, { filter })).ticketStats.byStaff;
    expect((await byStaffOf(scheduler, {})).length).toBeGreaterThan(1);
    expect((await byStaffOf(scheduler, { as: 'SCHEDULER' })).length).toBeGreaterThan(1);
    expect(await byStaffOf(staff, {})).toBeNull();
    expect(await byStaffOf(customer, { customerId: String(customer.id) })).toBeNull();
    expect(await byStaffOf(multi, { as: 'STAFF' })).toBeNull();
    // Counting per colleague is the scheduler's view; a filter or a fragment does not reveal it to others.
    const viaFragment = await gqlOk(server, staff, 'query { ticketStats { ...S } } fragment S on TicketStats { byStaff { staff { id } count } }');
    expect(viaFragment.ticketStats.byStaff).toBeNull();
  });

  it('acting as a role the viewer does not hold is FORBIDDEN, for the list and for the counts', async () => {
    for (const query of [LIST, STATS]) {
      const result = await gql(server, server.users.customer, query, { filter: { as: 'SCHEDULER' } });
      expect(errorCode(result)).toBe('FORBIDDEN');
    }
  });

  it.each([
    ['staffId not an id', { staffId: 'bob' }, 'filter.staffId'],
    ['customerId negative', { customerId: '-3' }, 'filter.customerId'],
    ['staffId with unassigned: true', { staffId: '1', unassigned: true }, 'filter.unassigned'],
    ['a one-character term', { search: 'printer a' }, 'filter.search'],
    ['a search too long', { search: 'x'.repeat(201) }, 'filter.search'],
    ['too many terms', { search: 'aa bb cc dd ee ff gg hh ii' }, 'filter.search'],
  ])('%s is BAD_USER_INPUT naming the field', async (_, filter, field) => {
    for (const query of [LIST, STATS]) {
      const result = await gql(server, server.users.scheduler, query, { filter });
      expect(errorCode(result)).toBe('BAD_USER_INPUT');
      expect(result.errors?.[0].extensions?.field).toBe(field);
    }
  });

  it('a date that is not a date-time is BAD_USER_INPUT (GraphQL coercion)', async () => {
    const result = await gql(server, server.users.scheduler, LIST, { filter: { createdAt: { gte: 'last tuesday' } } });
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
  });
});
