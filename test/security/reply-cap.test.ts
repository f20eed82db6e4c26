import { DEFAULT_LIMITS, loadConfig } from '../../src/config';
import { legacy } from '../support/legacy-client';
import { createTicketAs, errorCode, gql, gqlOk } from '../support/http';
import { DATABASES, startServer, type TestServer } from '../support/server';

/**
 * Issue 9, "Buffers that grow with someone else's traffic": every reader of a ticket gets all its
 * replies, so one customer could grow every scheduler's page without limit. A ticket holds at most
 * MAX_REPLIES_PER_TICKET replies that are not deleted (default 1,000); the next is refused with
 * CONFLICT (GraphQL) / 409 (legacy) and a message naming the limit, and writes nothing.
 */
const ADD = 'mutation($id: ID!, $content: String!) { addReply(ticketId: $id, content: $content) { id } }';
const CAP = 3;

describe.each(DATABASES)('replies per ticket (%s)', (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(kind, { config: { maxRepliesPerTicket: CAP } });
  });
  afterAll(async () => {
    await server?.close();
  });

  const replyCount = async (id: string): Promise<number> =>
    (await gqlOk(server, server.users.scheduler, 'query($id: ID!) { ticket(id: $id) { replies { id } } }', { id })).ticket.replies.length;
  const events = async (id: string): Promise<number> => {
    const rows = await server.app.database.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ count: number }>>("select count(*)::integer as count from ticket_events where ticket_id = ? and kind = 'REPLY_ADDED'", [id]);
    return rows[0].count;
  };

  it('refuses the reply beyond the limit on GraphQL and legacy, and a deletion makes room', async () => {
    const { customer, scheduler } = server.users;
    const id = await createTicketAs(server, customer);
    const ids: string[] = [];
    for (let i = 0; i < CAP; i++) ids.push((await gqlOk(server, i % 2 ? scheduler : customer, ADD, { id, content: `reply ${i}` })).addReply.id);

    const refused = await gql(server, scheduler, ADD, { id, content: 'one too many' });
    expect(errorCode(refused)).toBe('CONFLICT');
    expect(refused.errors?.[0].message).toBe(`This ticket has reached its limit of ${CAP} replies; no more replies can be added`);

    const legacyRefused = await legacy(server, customer, 'ticket-reply-create', { uuid: id, reply: { userid: customer.id, content: 'legacy one too many' } });
    expect(legacyRefused.status).toBe(409);
    expect(legacyRefused.body).toEqual({ code: 409, message: `This ticket has reached its limit of ${CAP} replies; no more replies can be added` });

    expect(await replyCount(id)).toBe(CAP);
    expect(await events(id)).toBe(CAP);

    // Deleted replies do not count.
    await gqlOk(server, customer, 'mutation($id: ID!) { deleteReply(id: $id) }', { id: ids[0] });
    expect((await legacy(server, customer, 'ticket-reply-create', { uuid: id, reply: { content: 'room again' } })).status).toBe(200);
    expect(await replyCount(id)).toBe(CAP);
  });

  it('holds under concurrent replies: exactly the limit lands', async () => {
    const { customer, scheduler } = server.users;
    const id = await createTicketAs(server, customer);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        i % 2
          ? gql(server, i % 4 === 1 ? scheduler : customer, ADD, { id, content: `racing ${i}` })
          : legacy(server, customer, 'ticket-reply-create', { uuid: id, reply: { content: `racing ${i}` } }),
      ),
    );
    const succeeded = results.filter((result) => ('body' in result ? result.status === 200 : !result.errors?.length));
    const refused = results.filter((result) => ('body' in result ? result.status === 409 : errorCode(result) === 'CONFLICT'));
    expect(succeeded).toHaveLength(CAP);
    expect(refused).toHaveLength(12 - CAP);
    expect(await replyCount(id)).toBe(CAP);
    expect(await events(id)).toBe(CAP);
  });
});

describe('MAX_REPLIES_PER_TICKET', () => {
  it('defaults to 1,000 and refuses what is not a positive whole number', () => {
    const key = 'b'.repeat(64);
    expect(loadConfig({ CREDENTIAL_KEY: key }).maxRepliesPerTicket).toBe(1_000);
    expect(DEFAULT_LIMITS.maxRepliesPerTicket).toBe(1_000);
    expect(loadConfig({ CREDENTIAL_KEY: key, MAX_REPLIES_PER_TICKET: '50' }).maxRepliesPerTicket).toBe(50);
    for (const bad of ['0', 'lots', '-3', '2.5']) {
      expect(() => loadConfig({ CREDENTIAL_KEY: key, MAX_REPLIES_PER_TICKET: bad })).toThrow(/MAX_REPLIES_PER_TICKET must be a whole number from 1/);
    }
  });
});
