import { legacyOk } from '../support/legacy-client';
import { gqlOk } from '../support/http';
import { describeEachSharedBus, serversWithClients } from '../support/live-suite';
import { startServer, type FixtureName, type TestServer, type TestUser } from '../support/server';
import { connect, EventStream, settled, subscribers } from '../support/live-client';

/**
 * Several server processes on one PostgreSQL database (two `createApp` instances here, each with
 * its own hub, bus connection and sockets): an event committed through either reaches the
 * subscribers of both, over LISTEN/NOTIFY by default and over Redis when REDIS_URL is set.
 */

describeEachSharedBus('two server processes on one PostgreSQL database, notes over %s', (bus, config) => {
  let a: TestServer;
  let b: TestServer;
  const clients = serversWithClients('postgres', 2, { config }, ([first, second]) => ([a, b] = [first, second]));

  const open = (server: TestServer, user: TestUser, variables: { after?: string } = {}) => {
    const client = connect(server, user);
    clients.push(client);
    return { client, stream: new EventStream(client.client, variables) };
  };

  it(`announces over ${bus}`, () => {
    expect(a.app.live.bus.kind).toBe(bus);
    expect(b.app.live.bus.kind).toBe(bus);
  });

  it('subscribers of every role on one process receive what the other commits, as each may see it', async () => {
    const { users } = a;
    const names: FixtureName[] = ['customer', 'otherCustomer', 'staff', 'otherStaff', 'scheduler'];
    const streams = Object.fromEntries(names.map((name) => [name, open(a, users[name]).stream])) as Record<string, EventStream>;
    await subscribers(a, names.length);
    try {
      const wakesBefore = a.app.live.hub!.stats().noteWakes;

      // GraphQL through process B ...
      const { createTicket } = await gqlOk(b, users.customer, 'mutation { createTicket(input: { content: "from B" }) { id } }');
      const id = createTicket.id;
      await streams.scheduler.count(1);
      await gqlOk(b, users.scheduler, `mutation($id: ID!) { assignTicket(id: $id, staffId: "${users.staff.id}") { id } }`, { id });
      await streams.staff.count(1);
      // ... and the legacy endpoint through process B too.
      const reply = await legacyOk(b, users.staff, 'ticket-reply-create', { uuid: id, reply: { userid: users.staff.id, content: 'legacy reply' } });
      // Delivered before the deletion below: an event read after it carries the reply without its
      // text (a deleted reply's text never comes back), which is not what this test is about.
      await streams.staff.count(2);
      await legacyOk(b, users.scheduler, 'edit-ticket', { uuid: id, status: 'ASSIGNED', 'staff-id': users.otherStaff.id });
      await legacyOk(b, users.staff, 'ticket-reply-delete', { uuid: id, 'reply-uuid': reply.uuid });
      await streams.scheduler.count(5);
      await settled(a);

      expect(streams.scheduler.kinds).toEqual(['CREATED', 'STATUS_CHANGED', 'REPLY_ADDED', 'STATUS_CHANGED', 'REPLY_DELETED']);
      expect(streams.customer.kinds).toEqual(streams.scheduler.kinds);
      // Reassigned away before the deletion: the first staff member never sees it.
      expect(streams.staff.kinds).toEqual(['STATUS_CHANGED', 'REPLY_ADDED']);
      expect(streams.otherStaff.kinds).toEqual(['STATUS_CHANGED', 'REPLY_DELETED']);
      expect(streams.otherCustomer.kinds).toEqual([]);
      expect(streams.staff.events[1]).toMatchObject({ reply: { id: reply.uuid, content: 'legacy reply' }, actor: { id: String(users.staff.id) } });
      expect(streams.otherStaff.events[1].ticket.permissions).toMatchObject({ fix: true, startProcessing: true, reply: true, assign: false });
      // Process A learned of B's commits from the bus, not by polling.
      expect(a.app.live.hub!.stats().noteWakes).toBeGreaterThan(wakesBefore);
    } finally {
      // Stopped even when an expectation failed, so the next test starts with no subscriber.
      for (const stream of Object.values(streams)) stream.stop();
    }
    await subscribers(a, 0);
  });

  it('a client that loses one process resumes on the other from its cursor', async () => {
    const { customer, scheduler } = a.users;
    const first = open(a, scheduler);
    await subscribers(a, 1);
    const { createTicket } = await gqlOk(a, customer, 'mutation { createTicket(input: { content: "switching" }) { id } }');
    await first.stream.count(1);
    await first.client.dispose();
    await gqlOk(a, customer, 'mutation($id: ID!) { addReply(ticketId: $id, content: "while away") { id } }', { id: createTicket.id });
    const second = open(b, scheduler, { after: first.stream.events[0].cursor });
    await second.stream.count(1);
    await gqlOk(a, customer, 'mutation($id: ID!) { addReply(ticketId: $id, content: "live on B") { id } }', { id: createTicket.id });
    await second.stream.count(2);
    await settled(b);
    expect(second.stream.events.map((event) => event.reply?.content)).toEqual(['while away', 'live on B']);
    second.stream.stop();
  });
});

(process.env.TEST_REDIS_URL && !process.env.TEST_DATABASE_URL ? describe : describe.skip)('Redis notes on the embedded database', () => {
  it('delivers through the Redis round trip', async () => {
    const server = await startServer('embedded', { config: { redisUrl: process.env.TEST_REDIS_URL } });
    const client = connect(server, server.users.customer);
    try {
      expect(server.app.live.bus.kind).toBe('redis');
      const stream = new EventStream(client.client);
      await subscribers(server, 1);
      await gqlOk(server, server.users.customer, 'mutation { createTicket(input: { content: "via redis" }) { id } }');
      await stream.count(1);
    } finally {
      await client.dispose();
      await server.close();
    }
  });
});
