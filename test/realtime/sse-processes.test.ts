import type { Client } from 'graphql-sse';
import { legacyOk } from '../support/legacy-client';
import { gqlOk } from '../support/http';
import { describeEachSharedBus, serversWithClients } from '../support/live-suite';
import type { TestServer } from '../support/server';
import { settled, subscribers } from '../support/live-client';
import { sseClient, SseStream, streamUrl } from './sse-client';

/**
 * GraphQL over SSE with several server processes on one PostgreSQL database (two `createApp`
 * instances, each with its own hub, bus connection and streams), with the real graphql-sse client:
 * a stream on one process receives what the other commits, as its viewer may see it, and a client
 * whose process shuts down reconnects to the other (graphql-sse's own retry) and resumes from the
 * last cursor it received: nothing missed, nothing repeated. Over LISTEN/NOTIFY, and Redis when
 * TEST_REDIS_URL is set.
 */
const REPLY = 'mutation($id: ID!, $c: String!) { addReply(ticketId: $id, content: $c) { id } }';

describeEachSharedBus('GraphQL over SSE across two server processes, notes over %s', (_bus, config) => {
  let a: TestServer;
  let b: TestServer;
  const clients = serversWithClients<Client>('postgres', 2, { config }, ([first, second]) => ([a, b] = [first, second]));

  it('a stream on one process receives what the other commits, as each viewer may see it', async () => {
    const { customer, otherCustomer, staff, scheduler } = a.users;
    const open = (user: typeof customer) => {
      const client = sseClient(a, user);
      clients.push(client);
      return new SseStream(client);
    };
    const streams = { customer: open(customer), otherCustomer: open(otherCustomer), staff: open(staff), scheduler: open(scheduler) };
    await subscribers(a, 4);
    // A reads B's events from the log, with each ticket as it is when A reads it: each event is
    // waited for before the next change, or CREATED read after the assignment would show the staff
    // member an assigned ticket (and so reach them), which is not what this test is about.
    const { createTicket } = await gqlOk(b, customer, 'mutation { createTicket(input: { content: "from B to SSE on A" }) { id } }');
    await streams.scheduler.count(1);
    await gqlOk(b, scheduler, `mutation($id: ID!) { assignTicket(id: $id, staffId: "${staff.id}") { id } }`, { id: createTicket.id });
    await streams.staff.count(1);
    await legacyOk(b, staff, 'ticket-reply-create', { uuid: createTicket.id, reply: { userid: staff.id, content: 'legacy via B' } });
    await streams.scheduler.count(3);
    await streams.staff.count(2);
    await settled(a);
    expect(streams.scheduler.kinds).toEqual(['CREATED', 'STATUS_CHANGED', 'REPLY_ADDED']);
    expect(streams.customer.kinds).toEqual(['CREATED', 'STATUS_CHANGED', 'REPLY_ADDED']);
    expect(streams.staff.kinds).toEqual(['STATUS_CHANGED', 'REPLY_ADDED']);
    expect(streams.otherCustomer.kinds).toEqual([]);
    expect(streams.staff.events[1]).toMatchObject({ reply: { content: 'legacy via B' }, ticket: { permissions: { startProcessing: true, assign: false } } });
    for (const stream of Object.values(streams)) stream.stop();
    await subscribers(a, 0);
  });

  it('when its process shuts down, the client reconnects to the other and resumes from its last cursor: nothing missed, nothing repeated', async () => {
    const { customer, scheduler } = a.users;
    // The client connects to B until B goes; then, once the test opens the gate, to A.
    let target = streamUrl(b);
    let openGate: () => void = () => undefined;
    let gate: Promise<void> = Promise.resolve();
    const client = sseClient(b, scheduler, {
      retry: true,
      url: async () => {
        await gate;
        return target;
      },
    });
    clients.push(client);
    const stream = new SseStream(client);
    await subscribers(b, 1);
    const { createTicket } = await gqlOk(a, customer, 'mutation { createTicket(input: { content: "moving" }) { id } }');
    const id = createTicket.id;
    await gqlOk(a, customer, REPLY, { id, c: 'before shutdown' });
    await stream.count(2);

    gate = new Promise((resolve) => (openGate = resolve));
    target = streamUrl(a);
    await b.close();
    // Committed while the client has no stream at all.
    await gqlOk(a, customer, REPLY, { id, c: 'while away 1' });
    await gqlOk(a, customer, REPLY, { id, c: 'while away 2' });
    openGate();
    await stream.count(4);
    await gqlOk(a, customer, REPLY, { id, c: 'live on A' });
    await stream.count(5);
    await settled(a);

    expect(stream.kinds).toEqual(['CREATED', 'REPLY_ADDED', 'REPLY_ADDED', 'REPLY_ADDED', 'REPLY_ADDED']);
    expect(stream.events.slice(1).map((event) => event.reply?.content)).toEqual(['before shutdown', 'while away 1', 'while away 2', 'live on A']);
    expect(new Set(stream.events.map((event) => event.cursor)).size).toBe(5);
    // One connection to B, one to A; the drop was a reconnect, not an end.
    expect(stream.connects).toBe(2);
    expect([stream.completed, stream.failure]).toEqual([false, undefined]);
    stream.stop();
  });
});
