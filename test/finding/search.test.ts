import { createTicketAs, errorCode, gql, gqlOk, replyAs } from '../support/http';
import { DATABASES, startServer, type TestServer, type TestUser } from '../support/server';

/**
 * `filter.search` as the contract's users write: English words, Chinese text without spaces, replies
 * (deleted ones never), within the viewer's visibility, and text that is never SQL.
 */

const SEARCH = `query($search: String, $first: Int) {
  tickets(first: $first, filter: { search: $search }) { totalCount edges { node { id content } } }
  ticketStats(filter: { search: $search }) { total }
}`;

describe.each(DATABASES)('ticket search (%s)', (kind) => {
  let server: TestServer;
  const ids: Record<string, string> = {};

  const create = (user: TestUser, content: string) => createTicketAs(server, user, content);
  const reply = (user: TestUser, id: string, content: string) => replyAs(server, user, id, content);
  const search = async (user: TestUser, text: string): Promise<string[]> => {
    const data = await gqlOk(server, user, SEARCH, { search: text, first: 100 });
    expect(data.tickets.totalCount).toBe(data.tickets.edges.length);
    expect(data.ticketStats.total).toBe(data.tickets.edges.length);
    return data.tickets.edges.map((edge: { node: { id: string } }) => edge.node.id).sort();
  };

  beforeAll(async () => {
    server = await startServer(kind);
    const { customer, otherCustomer } = server.users;
    ids.fire = await create(customer, 'The printer is on fire');
    ids.broken = await create(customer, '我的打印机坏了');
    ids.blank = await create(customer, '打印出来是空白');
    ids.monitor = await create(customer, 'Monitor flickers');
    await reply(customer, ids.monitor, 'Also the Printer-driver crashed');
    ids.secret = await create(customer, 'Keyboard sticks');
    const gone = await reply(customer, ids.secret, '删除的回复 mentions a scanner');
    await gqlOk(server, customer, 'mutation($id: ID!) { deleteReply(id: $id) }', { id: gone });
    ids.other = await create(otherCustomer, 'Printer on the second floor, 打印机 jammed');
  });
  afterAll(() => server?.close());

  it('"printer" finds the ticket about the printer, case-insensitively, in content and in replies', async () => {
    expect(await search(server.users.customer, 'printer')).toEqual([ids.fire, ids.monitor].sort());
    expect(await search(server.users.customer, 'PRINTER')).toEqual([ids.fire, ids.monitor].sort());
    expect(await search(server.users.customer, 'printer fire')).toEqual([ids.fire]);
  });

  it('"打印机" finds "我的打印机坏了"; "打印" (two characters) finds both Chinese tickets', async () => {
    expect(await search(server.users.customer, '打印机')).toEqual([ids.broken]);
    expect(await search(server.users.customer, '打印机坏了')).toEqual([ids.broken]);
    expect(await search(server.users.customer, '打印')).toEqual([ids.broken, ids.blank].sort());
    expect(await search(server.users.customer, '坏了 打印')).toEqual([ids.broken]);
  });

  it('results respect visibility exactly like lists', async () => {
    const { otherCustomer, scheduler, staff } = server.users;
    expect(await search(otherCustomer, 'printer')).toEqual([ids.other]);
    expect(await search(otherCustomer, '打印机')).toEqual([ids.other]);
    expect(await search(scheduler, '打印机')).toEqual([ids.broken, ids.other].sort());
    // Staff see no NEW ticket, found or not.
    expect(await search(staff, 'printer')).toEqual([]);
  });

  it('a deleted reply is never searched; usernames are not searched', async () => {
    expect(await search(server.users.customer, 'scanner')).toEqual([]);
    expect(await search(server.users.customer, '删除')).toEqual([]);
    expect(await search(server.users.scheduler, 'otherCust')).toEqual([]);
    expect(await search(server.users.scheduler, 'customer')).toEqual([]);
  });

  it('no match is an empty page, not an error; blank search is no search', async () => {
    expect(await search(server.users.customer, 'elephant')).toEqual([]);
    expect((await search(server.users.customer, '   ')).length).toBe(6 - 1);
  });

  it('search text is data, never SQL or a LIKE pattern', async () => {
    for (const text of ["'; drop table tickets; --", '%%', '__', '\\\\', "printer' or '1'='1"]) {
      expect(await search(server.users.scheduler, text)).toEqual([]);
    }
    expect((await gqlOk(server, server.users.scheduler, '{ tickets { totalCount } }')).tickets.totalCount).toBe(6);
  });

  it.each([
    ['longer than 200 characters', 'a'.repeat(201)],
    ['a one-character term', '打'],
    ['more than 8 terms', 'aa bb cc dd ee ff gg hh ii'],
    ['a NUL character', 'pr\u0000inter'],
  ])('%s is BAD_USER_INPUT naming filter.search', async (_, text) => {
    const result = await gql(server, server.users.customer, SEARCH, { search: text });
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0].extensions?.field).toBe('filter.search');
  });
});
