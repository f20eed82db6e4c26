import { STATUS_CODE, TicketStatus } from '../../src/modules/ticket/ticket-status';
import { errorCode, gql, gqlOk } from '../support/http';
import { DATABASES, startServer, type TestServer, type TestUser } from '../support/server';
import { seedFindingTickets, viewerOf } from '../support/finding-fixtures';

/**
 * `tickets(orderBy, first, after, last, before)`: every ordering, paged forwards and backwards
 * while tickets are filed between pages, returns every ticket that existed once, in order (no
 * duplicates, no gaps); cursors carry the ordering; `updatedAt` moves on every change a subscriber
 * sees.
 */

const PAGE = `query($orderBy: TicketOrder, $first: Int, $after: String, $last: Int, $before: String, $filter: TicketFilter) {
  tickets(orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    edges { cursor node { id status createdAt updatedAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

interface Node {
  id: string;
  status: TicketStatus;
  createdAt: string;
  updatedAt: string;
}
interface Page {
  edges: Array<{ cursor: string; node: Node }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

const ORDERINGS = (['CREATED_AT', 'UPDATED_AT', 'STATUS'] as const).flatMap((field) => (['ASC', 'DESC'] as const).map((direction) => ({ field, direction })));

type Ordering = (typeof ORDERINGS)[number];

const keyOf = (node: Node, field: Ordering['field']): number =>
  field === 'CREATED_AT' ? Date.parse(node.createdAt) : field === 'UPDATED_AT' ? Date.parse(node.updatedAt) : STATUS_CODE[node.status];

/** The model of an ordering: by key, then id, both in the direction. */
function sorted(nodes: readonly Node[], { field, direction }: Ordering): string[] {
  const sign = direction === 'ASC' ? 1 : -1;
  return [...nodes].sort((a, b) => sign * (keyOf(a, field) - keyOf(b, field) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))).map((node) => node.id);
}

describe.each(DATABASES)('tickets ordering and paging (%s)', (kind) => {
  let server: TestServer;

  const page = async (user: TestUser, variables: Record<string, unknown>): Promise<Page> => (await gqlOk(server, user, PAGE, variables)).tickets;

  /** Files a ticket between pages, as the other customer (the scheduler sees it). */
  const fileOne = (content: string) => server.app.services.tickets.create(server.app.database.orm.em.fork(), viewerOf(server.users.otherCustomer), { content });

  async function everything(user: TestUser): Promise<Node[]> {
    return (await page(user, { first: 100 })).edges.map((edge) => edge.node);
  }

  beforeAll(async () => {
    server = await startServer(kind);
    await seedFindingTickets(server, 21);
  });
  afterAll(() => server?.close());

  it.each(ORDERINGS)('%o: forwards with first/after while tickets are filed between pages', async (order) => {
    const user = server.users.scheduler;
    const before = await everything(user);
    const want = sorted(before, order);
    const seen: string[] = [];
    const filed: string[] = [];
    let after: string | null = null;
    for (let i = 0; ; i++) {
      const current = await page(user, { orderBy: order, first: 4, after });
      seen.push(...current.edges.map((edge) => edge.node.id));
      expect(current.pageInfo.endCursor).toBe(current.edges.at(-1)?.cursor ?? null);
      expect(current.pageInfo.startCursor).toBe(current.edges[0]?.cursor ?? null);
      expect(current.pageInfo.hasPreviousPage).toBe(false);
      // Each page is in order by itself.
      expect(current.edges.map((edge) => edge.node.id)).toEqual(
        sorted(
          current.edges.map((edge) => edge.node),
          order,
        ),
      );
      if (!current.pageInfo.hasNextPage) break;
      after = current.pageInfo.endCursor;
      if (i < 5) filed.push(await fileOne(`filed while paging ${i}`));
      if (i > 100) throw new Error('paging does not end');
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => !filed.includes(id))).toEqual(want);
  });

  it.each(ORDERINGS)('%o: backwards with last/before while tickets are filed between pages', async (order) => {
    const user = server.users.scheduler;
    const want = sorted(await everything(user), order);
    const seen: string[] = [];
    const filed: string[] = [];
    let before: string | null = null;
    for (let i = 0; ; i++) {
      const current = await page(user, { orderBy: order, last: 4, before });
      const ids = current.edges.map((edge) => edge.node.id);
      // A backward page is still in the ordering's order; it goes in front of the later ones.
      expect(ids).toEqual(
        sorted(
          current.edges.map((edge) => edge.node),
          order,
        ),
      );
      expect(current.pageInfo.hasNextPage).toBe(false);
      seen.unshift(...ids);
      if (!current.pageInfo.hasPreviousPage) break;
      before = current.pageInfo.startCursor;
      if (i < 5) filed.push(await fileOne(`filed while paging back ${i}`));
      if (i > 100) throw new Error('paging does not end');
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => !filed.includes(id))).toEqual(want);
  });

  it('the default is CREATED_AT DESC, newest first', async () => {
    const user = server.users.customer;
    const byDefault = (await page(user, { first: 100 })).edges.map((edge) => edge.node.id);
    const explicit = (await page(user, { first: 100, orderBy: { field: 'CREATED_AT', direction: 'DESC' } })).edges.map((edge) => edge.node.id);
    expect(byDefault).toEqual(explicit);
    expect((await page(user, { first: 100, orderBy: {} })).edges.map((edge) => edge.node.id)).toEqual(byDefault);
  });

  it('after and before together return the window between two cursors', async () => {
    const user = server.users.scheduler;
    const order = { field: 'STATUS', direction: 'ASC' };
    const all = await page(user, { orderBy: order, first: 100 });
    const window = await page(user, { orderBy: order, first: 100, after: all.edges[2].cursor, before: all.edges[9].cursor });
    expect(window.edges.map((edge) => edge.node.id)).toEqual(all.edges.slice(3, 9).map((edge) => edge.node.id));
    const fromEnd = await page(user, { orderBy: order, last: 3, after: all.edges[2].cursor, before: all.edges[9].cursor });
    expect(fromEnd.edges.map((edge) => edge.node.id)).toEqual(all.edges.slice(6, 9).map((edge) => edge.node.id));
    expect(fromEnd.pageInfo.hasPreviousPage).toBe(true);
  });

  it('a cursor of another ordering (field or direction) is BAD_USER_INPUT naming the argument', async () => {
    const user = server.users.scheduler;
    const { pageInfo } = await page(user, { orderBy: { field: 'UPDATED_AT', direction: 'DESC' }, first: 2 });
    for (const orderBy of [
      { field: 'CREATED_AT', direction: 'DESC' },
      { field: 'UPDATED_AT', direction: 'ASC' },
      { field: 'STATUS', direction: 'DESC' },
    ]) {
      for (const [name, variables] of [
        ['after', { first: 2, after: pageInfo.endCursor }],
        ['before', { last: 2, before: pageInfo.endCursor }],
      ] as const) {
        const result = await gql(server, user, PAGE, { orderBy, ...variables });
        expect(errorCode(result)).toBe('BAD_USER_INPUT');
        expect(result.errors?.[0].extensions?.field).toBe(name);
        expect(result.errors?.[0].message).toMatch(/ordering UPDATED_AT DESC/);
      }
    }
  });

  it.each([
    ['first and last together', { first: 2, last: 2 }, 'last'],
    ['last: 0', { last: 0 }, 'last'],
    ['last: 101', { last: 101 }, 'last'],
    [
      'a forged STATUS key',
      {
        orderBy: { field: 'STATUS', direction: 'ASC' },
        first: 2,
        after: Buffer.from('ticket2:STATUS:ASC:9:0190aaaa-0000-7000-8000-000000000000').toString('base64url'),
      },
      'after',
    ],
    [
      'a date key beyond any date',
      { first: 2, after: Buffer.from('ticket2:CREATED_AT:DESC:9999999999999999:0190aaaa-0000-7000-8000-000000000000').toString('base64url') },
      'after',
    ],
    ['a legacy id-only cursor', { first: 2, after: Buffer.from('ticket:0190aaaa-0000-7000-8000-000000000000').toString('base64url') }, 'after'],
    ['junk before', { last: 2, before: '%%%' }, 'before'],
  ])('%s is BAD_USER_INPUT naming the argument', async (_, variables, field) => {
    const result = await gql(server, server.users.scheduler, PAGE, variables);
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0].extensions?.field).toBe(field);
  });

  it('tampered cursors (bytes flipped, cut, padded, forged fields, NUL, SQL) are BAD_USER_INPUT or a page, never a server error', async () => {
    const user = server.users.scheduler;
    const order = { field: 'CREATED_AT', direction: 'ASC' };
    const { pageInfo } = await page(user, { orderBy: order, first: 3 });
    const valid = pageInfo.endCursor!;
    const decoded = Buffer.from(valid, 'base64url').toString('utf8');
    const [, , , key, id] = decoded.split(':');
    const forge = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const tampered: string[] = [
      '',
      ' ',
      valid.slice(0, -1),
      valid.slice(1),
      `${valid}A`,
      `${valid}==`,
      valid.repeat(3),
      'A'.repeat(201),
      forge(`${decoded}\u0000`),
      forge(`ticket2:CREATED_AT:ASC:${key}\u0000:${id}`),
      forge(`ticket2:CREATED_AT:ASC:${key}:${id}'; drop table tickets; --`),
      forge(`ticket2:CREATED_AT:ASC:${key}:${id}:extra`),
      forge(`ticket2:CREATED_AT:ASC::${id}`),
      forge(`ticket2:CREATED_AT:ASC:1e3:${id}`),
      forge(`ticket2:CREATED_AT:ASC:0x10:${id}`),
      forge(`ticket2:CREATED_AT:ASC:NaN:${id}`),
      forge(`ticket2:CREATED_AT:ASC:Infinity:${id}`),
      forge(`ticket2:CREATED_AT:ASC:${key}.5:${id}`),
      forge(`ticket2:CREATED_AT:ASC: ${key}:${id}`),
      forge(`ticket2:CREATED_AT:ASC:-8640000000000001:${id}`),
      forge(`ticket2:CREATED_AT:ASC:99999999999999999999:${id}`),
      forge(`ticket2:CREATED_AT:ASC:${key}:not-a-uuid`),
      forge(`ticket2:CREATED_AT:ASC:${key}:`),
      forge(`ticket2:created_at:asc:${key}:${id}`),
      forge(`ticket2:CREATED_AT:ASC:${key}:${id.toUpperCase()}`),
      forge(`ticket2:CREATED_AT:ASC:-1:${id}`),
      forge(`ticket2:CREATED_AT:ASC:0:00000000-0000-0000-0000-000000000000`),
      forge(`event:${key}`),
      '\u0000',
      'тикет',
      '%00',
    ];
    // And every cursor one flipped character away from the real one.
    let seed = 12;
    for (let i = 0; i < 40; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const at = seed % valid.length;
      tampered.push(valid.slice(0, at) + alphabet[(alphabet.indexOf(valid[at]) + 1 + (seed % 63)) % 64] + valid.slice(at + 1));
    }
    for (const cursor of tampered) {
      for (const variables of [
        { orderBy: order, first: 2, after: cursor },
        { orderBy: order, last: 2, before: cursor },
      ]) {
        const result = await gql(server, user, PAGE, variables);
        if (result.errors) expect({ cursor, code: errorCode(result) }).toEqual({ cursor, code: 'BAD_USER_INPUT' });
        else expect(Array.isArray(result.data?.tickets.edges)).toBe(true);
      }
    }
  });

  it('updatedAt moves on a transition, an edit, a reply added and a reply deleted, and not on a read', async () => {
    const { customer, scheduler, staff } = server.users;
    const detail = async (id: string) =>
      (await gqlOk(server, customer, 'query($id: ID!) { ticket(id: $id) { updatedAt } }', { id })).ticket.updatedAt as string;
    const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
    const id = (await gqlOk(server, customer, 'mutation { createTicket(input: { content: "watch my updatedAt" }) { id } }')).createTicket.id;
    const stamps = [await detail(id)];
    const steps: Array<[TestUser, string, Record<string, unknown>]> = [
      [customer, 'mutation($id: ID!) { editTicket(id: $id, input: { content: "edited" }) { id } }', {}],
      [customer, 'mutation($id: ID!) { addReply(ticketId: $id, content: "a reply") { id } }', {}],
      [scheduler, 'mutation($id: ID!, $s: ID!) { assignTicket(id: $id, staffId: $s) { id } }', { s: String(staff.id) }],
    ];
    for (const [user, mutation, extra] of steps) {
      await pause();
      await gqlOk(server, user, mutation, { id, ...extra });
      stamps.push(await detail(id));
    }
    const replyId = (await gqlOk(server, customer, 'query($id: ID!) { ticket(id: $id) { replies { id } } }', { id })).ticket.replies[0].id;
    await pause();
    await gqlOk(server, customer, 'mutation($id: ID!) { deleteReply(id: $id) }', { id: replyId });
    stamps.push(await detail(id));
    await pause();
    stamps.push(await detail(id));
    const times = stamps.map((stamp) => Date.parse(stamp));
    for (let i = 1; i < times.length - 1; i++) expect(times[i]).toBeGreaterThan(times[i - 1]);
    expect(times.at(-1)).toBe(times.at(-2));
    // And the ordering by updatedAt follows: the ticket just touched comes first.
    const newest = await page(scheduler, { orderBy: { field: 'UPDATED_AT', direction: 'DESC' }, first: 1 });
    expect(newest.edges[0].node.id).toBe(id);
  });
});
