import { gqlOk } from '../support/http';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { legacyOk } from '../support/legacy-client';

/**
 * User text holding `;` (and text shaped like SQL around it) travels through every write and read
 * path byte for byte. MikroORM inlines escaped parameters into the statement text; the PGlite
 * driver used to run any text holding a `;` as a multi-statement script, whose answer came back
 * nested (src/db/pglite-driver.ts).
 */

const TEXTS = [';', 'a;b', "'; drop table tickets; --", "'; select 1; --", '"; select 2; /*', "back\\slash; \\'; done", '$$; select 3; $$', '打印机; 坏了;;'];

const TICKET = 'query($id: ID!) { ticket(id: $id) { id content replies { content } } }';
const SEARCH = `query($search: String) {
  tickets(first: 100, filter: { search: $search }) { totalCount edges { node { id content } } }
  ticketStats(filter: { search: $search }) { total }
}`;

describe.each(DATABASES)('text holding `;` (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server?.close());

  it('em.getConnection().execute answers the rows of a single statement whose parameters hold `;`', async () => {
    const connection = server.app.database.orm.em.fork().getConnection();
    for (const text of TEXTS) {
      expect(await connection.execute('select ? as v, ? as w', [text, `${text};`], 'all')).toEqual([{ v: text, w: `${text};` }]);
      expect(await connection.execute('select ? as v', [text], 'get')).toEqual({ v: text });
    }
  });

  // First, while the only tickets holding these terms are its own.
  it('ticket search for text holding `;` finds exactly the tickets holding it, and the user directory answers', async () => {
    const { customer, admin } = server.users;
    const marker = 'zq;xv';
    const holder = (
      await gqlOk(server, customer, 'mutation($c: String!) { createTicket(input: { content: $c }) { id } }', { c: `printer ${marker};'; select 1; --` })
    ).createTicket.id as string;
    await gqlOk(server, customer, 'mutation($c: String!) { createTicket(input: { content: $c }) { id } }', { c: 'zq xv without it' });

    for (const term of [marker, "'; select 1; --", `${marker};'`]) {
      const data = await gqlOk(server, customer, SEARCH, { search: term });
      expect(data.tickets.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([holder]);
      expect(data.tickets.totalCount).toBe(1);
      expect(data.ticketStats.total).toBe(1);
    }
    const none = await gqlOk(server, customer, SEARCH, { search: "'; drop table tickets; --" });
    expect(none.tickets.totalCount).toBe(0);

    const users = await gqlOk(server, admin, 'query($s: String) { users(filter: { search: $s }) { edges { node { username } } } }', { s: "'; select 1; --" });
    expect(users.users.edges).toEqual([]);
  });

  it.each(TEXTS)('%j is stored and read back byte for byte by createTicket, editTicket, addReply and legacy create-ticket', async (text) => {
    const { customer } = server.users;
    const created = await gqlOk(server, customer, 'mutation($c: String!) { createTicket(input: { content: $c }) { id content } }', { c: text });
    expect(created.createTicket.content).toBe(text);
    const id = created.createTicket.id as string;

    const edited = await gqlOk(server, customer, 'mutation($id: ID!, $c: String!) { editTicket(id: $id, input: { content: $c }) { content } }', {
      id,
      c: `${text} (edited)`,
    });
    expect(edited.editTicket.content).toBe(`${text} (edited)`);

    const replied = await gqlOk(server, customer, 'mutation($id: ID!, $c: String!) { addReply(ticketId: $id, content: $c) { content } }', { id, c: text });
    expect(replied.addReply.content).toBe(text);

    const read = await gqlOk(server, customer, TICKET, { id });
    expect(read.ticket).toEqual({ id, content: `${text} (edited)`, replies: [{ content: text }] });

    const legacyId = (await legacyOk(server, customer, 'create-ticket', { content: text })).uuid as string;
    expect((await gqlOk(server, customer, TICKET, { id: legacyId })).ticket.content).toBe(text);
  });
});
