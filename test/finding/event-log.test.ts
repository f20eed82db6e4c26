import { decodeEventCursor, encodeEventCursor } from '../../src/modules/event/event-cursor';
import { connect, EventStream, EVENT_FIELDS } from '../support/live-client';
import { errorCode, gql, gqlOk } from '../support/http';
import { DATABASES, startServer, type TestServer, type TestUser } from '../support/server';

/**
 * `ticketEventLog`: the events `ticketEvents` replays, over plain HTTP. A poller that follows
 * endCursor while another client writes misses nothing and sees nothing twice; each viewer gets
 * exactly the events of the tickets they may see; the subscription's replay and the log agree.
 */

const LOG = `query($after: String, $first: Int, $ticketId: ID) {
  ticketEventLog(after: $after, first: $first, ticketId: $ticketId) {
    edges { cursor node { ${EVENT_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface LogPage {
  edges: Array<{ cursor: string; node: { cursor: string; kind: string; ticket: { id: string } } }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const seqOf = (cursor: string): number => decodeEventCursor(cursor, 'cursor');

describe.each(DATABASES)('ticketEventLog over HTTP (%s)', (kind) => {
  let server: TestServer;

  const page = async (user: TestUser, variables: Record<string, unknown>): Promise<LogPage> => (await gqlOk(server, user, LOG, variables)).ticketEventLog;

  /** Follows the log from `after` until a page says nothing more is there right now. */
  async function drain(user: TestUser, after: string | null, first: number, seen: number[]): Promise<string | null> {
    for (;;) {
      const current = await page(user, { after, first });
      seen.push(...current.edges.map((edge) => seqOf(edge.cursor)));
      for (const edge of current.edges) expect(edge.node.cursor).toBe(edge.cursor);
      if (current.pageInfo.endCursor) after = current.pageInfo.endCursor;
      if (!current.pageInfo.hasNextPage) return after;
    }
  }

  /** Seqs in the log (optionally only of tickets `customerId` filed), straight from the table. */
  async function logSeqs(customerId?: number): Promise<number[]> {
    const rows = await server.app.database.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ seq: string | number }>>(
        `select e.seq from ticket_events e join tickets t on t.id = e.ticket_id
         where ${customerId === undefined ? 'true' : 't.customer_id = ?'} order by e.seq`,
        customerId === undefined ? [] : [customerId],
        'all',
      );
    return rows.map((row: { seq: string | number }) => Number(row.seq));
  }

  const create = async (user: TestUser, content: string) =>
    (await gqlOk(server, user, 'mutation($c: String!) { createTicket(input: { content: $c }) { id } }', { c: content })).createTicket.id as string;

  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server?.close());

  it('pollers following endCursor against a concurrent writer miss nothing and repeat nothing, each in their visibility', async () => {
    const { customer, otherCustomer, scheduler, staff } = server.users;
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 24; i++) {
        const owner = i % 2 ? otherCustomer : customer;
        const id = await create(owner, `written while polling ${i}`);
        await gqlOk(server, owner, 'mutation($id: ID!) { addReply(ticketId: $id, content: "more") { id } }', { id });
        if (i % 3 === 0) {
          await gqlOk(server, scheduler, 'mutation($id: ID!, $s: ID!) { assignTicket(id: $id, staffId: $s) { id } }', { id, s: String(staff.id) });
        }
      }
      writing = false;
    })();
    const poll = async (user: TestUser, first: number): Promise<number[]> => {
      const seen: number[] = [];
      let after: string | null = null;
      while (writing) {
        after = await drain(user, after, first, seen);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await writer;
      await drain(user, after, first, seen);
      return seen;
    };
    const [, all, mine, theirs] = await Promise.all([writer, poll(scheduler, 7), poll(customer, 3), poll(otherCustomer, 100)]);
    expect(all).toEqual(await logSeqs());
    expect(all.length).toBeGreaterThanOrEqual(24 * 2 + 8);
    expect(mine).toEqual(await logSeqs(customer.id));
    expect(theirs).toEqual(await logSeqs(otherCustomer.id));
  });

  it('a page of events the viewer may not see has no edges but moves endCursor on', async () => {
    const { customer, otherCustomer } = server.users;
    const start = (await page(customer, { first: 100 })).pageInfo.endCursor;
    const idle = await drain(customer, start, 100, []);
    for (let i = 0; i < 3; i++) await create(otherCustomer, `not yours ${i}`);
    // The log is read through the viewer's visibility, a window at a time (event-replay.ts): the
    // page holds none of the three and its endCursor moves past them.
    const next = await page(customer, { after: idle, first: 2 });
    expect(next).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: encodeEventCursor(seqOf(idle!) + 3) } });
    const again = await page(customer, { after: next.pageInfo.endCursor, first: 2 });
    expect(again).toEqual(next);
  });

  it('answers what the ticketEvents replay delivers for the same viewer and cursor', async () => {
    const { staff } = server.users;
    const after = encodeEventCursor(1);
    const http: string[] = [];
    let cursor: string | null = after;
    for (;;) {
      const current = await page(staff, { after: cursor, first: 10 });
      http.push(...current.edges.map((edge) => `${edge.cursor} ${edge.node.kind} ${edge.node.ticket.id}`));
      cursor = current.pageInfo.endCursor;
      if (!current.pageInfo.hasNextPage) break;
    }
    expect(http.length).toBeGreaterThan(0);
    const client = connect(server, staff);
    try {
      const stream = new EventStream(client.client, { after });
      await stream.count(http.length);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(stream.events.map((event) => `${event.cursor} ${event.kind} ${event.ticket.id}`)).toEqual(http);
    } finally {
      await client.dispose();
    }
  });

  it("never serves a deleted reply's text: not in the REPLY_ADDED it replays, not in REPLY_DELETED, not in the ticket's replies", async () => {
    const { customer, scheduler } = server.users;
    const secret = 'my password is hunter2 密码是秘密';
    const start = await drain(scheduler, null, 100, []);
    const id = await create(customer, 'a ticket whose reply goes');
    const replyId = (await gqlOk(server, customer, 'mutation($id: ID!, $c: String!) { addReply(ticketId: $id, content: $c) { id } }', { id, c: secret }))
      .addReply.id;
    await gqlOk(server, customer, 'mutation($id: ID!) { deleteReply(id: $id) }', { id: replyId });
    const query = `query($after: String, $ticketId: ID) {
      ticketEventLog(after: $after, first: 100, ticketId: $ticketId) {
        edges { node { kind reply { id content } ticket { id replies { id content } } } }
      }
    }`;
    for (const [user, variables] of [
      [customer, { ticketId: id }],
      [scheduler, { after: start }],
      [scheduler, { ticketId: id }],
    ] as const) {
      const result = await gql(server, user, query, variables);
      expect(result.errors).toBeUndefined();
      const edges = result.data!.ticketEventLog.edges.filter((edge: { node: { ticket: { id: string } } }) => edge.node.ticket.id === id);
      expect(edges.map((edge: { node: { kind: string; reply: unknown } }) => [edge.node.kind, edge.node.reply])).toEqual([
        ['CREATED', null],
        ['REPLY_ADDED', { id: replyId, content: null }],
        ['REPLY_DELETED', { id: replyId, content: null }],
      ]);
      expect(JSON.stringify(result)).not.toContain('hunter2');
      expect(JSON.stringify(result)).not.toContain('密码');
    }
  });

  it("ticketId narrows to one ticket; another's ticket is FORBIDDEN, none NOT_FOUND", async () => {
    const { customer, otherCustomer } = server.users;
    const id = await create(customer, 'only this one');
    await gqlOk(server, customer, 'mutation($id: ID!) { addReply(ticketId: $id, content: "and a reply") { id } }', { id });
    const one = await page(customer, { ticketId: id, first: 100 });
    expect(one.edges.map((edge) => [edge.node.kind, edge.node.ticket.id])).toEqual([
      ['CREATED', id],
      ['REPLY_ADDED', id],
    ]);
    expect(errorCode(await gql(server, otherCustomer, LOG, { ticketId: id }))).toBe('FORBIDDEN');
    expect(errorCode(await gql(server, customer, LOG, { ticketId: '0190aaaa-0000-7000-8000-000000000000' }))).toBe('NOT_FOUND');
  });

  it.each([
    ['first: 0', { first: 0 }, 'first'],
    ['first: 101', { first: 101 }, 'first'],
    ['a junk cursor', { after: 'junk!' }, 'after'],
    ['a ticket cursor', { after: Buffer.from('ticket2:STATUS:ASC:1:0190aaaa-0000-7000-8000-000000000000').toString('base64url') }, 'after'],
    ['a cursor beyond the log', { after: encodeEventCursor(10_000_000) }, 'after'],
    ['a cursor with a NUL', { after: Buffer.from('event:1\u0000').toString('base64url') }, 'after'],
    ['a cursor with SQL', { after: Buffer.from("event:1' or '1'='1").toString('base64url') }, 'after'],
    ['a cursor at seq 0', { after: Buffer.from('event:0').toString('base64url') }, 'after'],
    ['a negative cursor', { after: Buffer.from('event:-1').toString('base64url') }, 'after'],
    ['a cursor past 2^53', { after: Buffer.from('event:9007199254740993').toString('base64url') }, 'after'],
    ['a ticketId with a NUL', { ticketId: '0190aaaa-0000-7000-8000-00000000000\u0000' }, 'ticketId'],
    ['a malformed ticketId', { ticketId: 'nope' }, 'ticketId'],
  ])('%s is BAD_USER_INPUT naming the argument', async (_, variables, field) => {
    const result = await gql(server, server.users.scheduler, LOG, variables);
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0].extensions?.field).toBe(field);
  });

  it('is refused without a credential', async () => {
    expect(errorCode(await gql(server, null, LOG, {}))).toBe('UNAUTHENTICATED');
  });
});
