import { DEFAULT_LIMITS, loadConfig } from '../../src/config';
import type { Database } from '../../src/db/database';
import { legacy } from '../support/legacy-client';
import { createTicketAs, errorCode, gql, gqlOk } from '../support/http';
import { DATABASES, openFreshDatabase, startServer, type TestServer } from '../support/server';

/**
 * Issue 9, "Buffers that grow with someone else's traffic": every reader of a ticket gets all its
 * replies, so one customer could grow every scheduler's page without limit. A ticket holds at most
 * MAX_REPLIES_PER_TICKET replies that are not deleted (default 1,000); the next is refused with
 * CONFLICT (GraphQL) / 409 (legacy) and a message naming the limit, and writes nothing.
 *
 * The count the cap reads is the ticket's `reply_count` (Migration20261208000000_reply_count),
 * kept by a trigger for every reply added, deleted or moved: after each test here, every ticket's
 * count equals its replies that are not deleted.
 */
const ADD = 'mutation($id: ID!, $content: String!) { addReply(ticketId: $id, content: $content) { id } }';
const CAP = 3;

/** Tickets whose `reply_count` is not the number of their replies that are not deleted. */
const MISCOUNTED = `select t.id, t.reply_count, (select count(*)::integer from replies r where r.ticket_id = t.id and r.deleted_at is null) as replies
  from tickets t where t.reply_count <> (select count(*) from replies r where r.ticket_id = t.id and r.deleted_at is null)`;

describe.each(DATABASES)('replies per ticket (%s)', (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(kind, { config: { maxRepliesPerTicket: CAP } });
  });
  afterAll(async () => {
    await server?.close();
  });
  afterEach(async () => {
    expect(await server.app.database.orm.em.fork().getConnection().execute(MISCOUNTED)).toEqual([]);
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

  it('concurrent deletions of one reply take it off the count once: one succeeds, the rest are NOT_FOUND, and one reply fits again', async () => {
    const { customer, scheduler } = server.users;
    const id = await createTicketAs(server, customer);
    const ids: string[] = [];
    for (let i = 0; i < CAP; i++) ids.push((await gqlOk(server, customer, ADD, { id, content: `reply ${i}` })).addReply.id);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        i % 2
          ? gql(server, customer, 'mutation($id: ID!) { deleteReply(id: $id) }', { id: ids[1] })
          : legacy(server, customer, 'ticket-reply-delete', { uuid: id, 'reply-uuid': ids[1] }),
      ),
    );
    const deleted = results.filter((result) => ('body' in result ? result.status === 200 : !result.errors?.length));
    const missing = results.filter((result) => ('body' in result ? result.status === 404 : errorCode(result) === 'NOT_FOUND'));
    expect(deleted).toHaveLength(1);
    expect(missing).toHaveLength(7);
    expect(await replyCount(id)).toBe(CAP - 1);
    expect((await gqlOk(server, scheduler, ADD, { id, content: 'fits' })).addReply.id).toEqual(expect.any(String));
    expect(errorCode(await gql(server, scheduler, ADD, { id, content: 'does not' }))).toBe('CONFLICT');
  });
});

describe.each(DATABASES)('the reply count migration (%s)', (kind) => {
  let database: Database;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ database, close } = await openFreshDatabase(kind, { poolSize: 2 }));
  });
  afterAll(() => close?.());

  it('fills the count of every ticket from its replies that are not deleted, keeps it for any writer, and the count cannot go below zero', async () => {
    const migrator = database.orm.getMigrator();
    const connection = database.orm.em.getConnection();
    await migrator.down({ to: 'Migration20261207000000_search_bigrams' });
    const [{ id: userId }] = await connection.execute<Array<{ id: number }>>(
      "insert into users (username, password_hash, roles) values ('counted', 'x', '{CUSTOMER}') returning id",
    );
    const tickets = ['01900000-0000-7000-8000-00000000c001', '01900000-0000-7000-8000-00000000c002', '01900000-0000-7000-8000-00000000c003'];
    for (const id of tickets) await connection.execute('insert into tickets (id, customer_id, content, status) values (?, ?, ?, 1)', [id, userId, 'text']);
    // The first: 3 replies, one deleted; the second: 1 reply, deleted; the third: none.
    const replies: Array<[string, number, boolean]> = [
      [tickets[0], 1, false],
      [tickets[0], 2, true],
      [tickets[0], 3, false],
      [tickets[1], 4, true],
    ];
    for (const [ticket, n, deleted] of replies) {
      await connection.execute('insert into replies (id, ticket_id, author_id, content, deleted_at) values (?, ?, ?, ?, ?)', [
        `01900000-0000-7000-8000-0000000d000${n}`,
        ticket,
        userId,
        deleted ? null : `reply ${n}`,
        deleted ? new Date() : null,
      ]);
    }
    await migrator.up();
    const counts = async (): Promise<number[]> =>
      (await connection.execute<Array<{ reply_count: number }>>('select reply_count from tickets where customer_id = ? order by id', [userId])).map(
        (row: { reply_count: number }) => row.reply_count,
      );
    expect(await counts()).toEqual([2, 0, 0]);

    // Writers that know nothing of the column (the previous version during a rolling upgrade, a
    // repair by hand) still move it: the database keeps it.
    const extra = '01900000-0000-7000-8000-0000000d0009';
    await connection.execute('insert into replies (id, ticket_id, author_id, content) values (?, ?, ?, ?)', [extra, tickets[2], userId, 'by hand']);
    expect(await counts()).toEqual([2, 0, 1]);
    await connection.execute('update replies set deleted_at = now(), content = null where id = ?', [extra]);
    expect(await counts()).toEqual([2, 0, 0]);
    await connection.execute("update replies set deleted_at = null, content = 'back' where id = ?", [extra]);
    expect(await counts()).toEqual([2, 0, 1]);
    await connection.execute('update replies set ticket_id = ? where id = ?', [tickets[2], '01900000-0000-7000-8000-0000000d0001']);
    expect(await counts()).toEqual([1, 0, 2]);
    await connection.execute('delete from replies where id = ?', ['01900000-0000-7000-8000-0000000d0003']);
    expect(await counts()).toEqual([0, 0, 2]);
    await connection.execute('update replies set author_id = author_id where ticket_id = ?', [tickets[2]]);
    expect(await counts()).toEqual([0, 0, 2]);

    await expect(connection.execute('update tickets set reply_count = -1 where id = ?', [tickets[2]])).rejects.toThrow(/tickets_reply_count_check/);
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
