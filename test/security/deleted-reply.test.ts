import { encodeEventCursor } from '../../src/modules/event/event-cursor';
import { connect, EventStream, settled, subscribers } from '../support/live-client';
import { legacyOk } from '../support/legacy-client';
import { createTicketAs, gqlOk } from '../support/http';
import { serverWithClients } from '../support/live-suite';
import { DATABASES, type TestServer } from '../support/server';
import { sseClient, SseStream } from '../realtime/sse-client';

/**
 * Issue 9, "Deleted means gone": after deleteReply the reply's text is never served again to
 * anyone, on any surface: `ticket`, `tickets` (a search for its words finds nothing), the legacy
 * detail and lists, the HTTP change feed (`ticketEventLog`), and ticket events replayed from any
 * cursor, a made-up one included, with or without `ticketId`, over graphql-ws and over
 * Server-Sent Events (`/graphql/stream`). REPLY_DELETED
 * (and a replayed REPLY_ADDED) name the reply by id, without its text. The stored row keeps no
 * text either.
 */
const SECRET = 'my password is hunter2-7f3a';

describe.each(DATABASES)('a deleted reply is gone (%s)', (kind) => {
  let server: TestServer;
  const clients = serverWithClients(kind, {}, (started) => (server = started));

  it('is served by no query, list, detail or replayed event', async () => {
    const { customer, scheduler, staff } = server.users;
    const id = await createTicketAs(server, customer, 'printer on fire');
    await gqlOk(server, scheduler, 'mutation($id: ID!, $staff: ID!) { assignTicket(id: $id, staffId: $staff) { id } }', { id, staff: String(staff.id) });

    // A live subscriber sees the reply while it exists (the cursor before it is where replays start).
    const live = connect(server, scheduler);
    clients.push(live);
    const liveStream = new EventStream(live.client, { ticketId: id });
    // Subscribed before the reply is added (a live subscription receives what commits after it).
    await subscribers(server, 1);
    const replyId = (await gqlOk(server, customer, 'mutation($id: ID!, $c: String!) { addReply(ticketId: $id, content: $c) { id } }', { id, c: SECRET }))
      .addReply.id as string;
    await liveStream.count(1);
    expect(liveStream.events[0].reply?.content).toBe(SECRET);
    await gqlOk(server, customer, 'mutation($id: ID!, $c: String!) { addReply(ticketId: $id, content: $c) { id } }', { id, c: 'a reply that stays' });

    expect((await gqlOk(server, customer, 'mutation($id: ID!) { deleteReply(id: $id) }', { id: replyId })).deleteReply).toBe(replyId);
    await liveStream.count(3);
    const deleted = liveStream.events[2];
    expect(deleted.kind).toBe('REPLY_DELETED');
    expect(deleted.reply).toMatchObject({ id: replyId, content: null, author: { id: String(customer.id) } });
    await settled(server);

    const everything: unknown[] = [];
    // GraphQL: the ticket and the lists, as each viewer who may see it.
    for (const viewer of [customer, scheduler, staff]) {
      everything.push(await gqlOk(server, viewer, 'query($id: ID!) { ticket(id: $id) { replies { id content } } }', { id }));
      everything.push(await gqlOk(server, viewer, '{ tickets(first: 100) { edges { node { id replies { id content } } } } }'));
    }
    // A search for the deleted reply's words finds nothing (the words of a reply that stays still match).
    const search = 'query($s: String!) { tickets(first: 100, filter: { search: $s }) { edges { node { id } } } }';
    for (const viewer of [customer, scheduler, staff]) {
      expect((await gqlOk(server, viewer, search, { s: 'hunter2' })).tickets.edges).toEqual([]);
      expect((await gqlOk(server, viewer, search, { s: 'reply that stays' })).tickets.edges).toEqual([{ node: { id } }]);
    }
    // The HTTP change feed from the start of the log, with and without ticketId.
    const feed = `query($id: ID) { ticketEventLog(first: 100, ticketId: $id) {
      edges { node { kind reply { id content } ticket { replies { id content } } } } } }`;
    for (const [viewer, ticketId] of [
      [customer, undefined],
      [scheduler, undefined],
      [staff, id],
    ] as const) {
      const log = await gqlOk(server, viewer, feed, { id: ticketId });
      const nodes = log.ticketEventLog.edges.map((edge: { node: unknown }) => edge.node) as Array<{
        kind: string;
        reply: { id: string; content: string | null } | null;
      }>;
      expect(nodes.filter((node) => node.reply?.id === replyId)).toEqual([
        expect.objectContaining({ kind: 'REPLY_ADDED', reply: { id: replyId, content: null } }),
        expect.objectContaining({ kind: 'REPLY_DELETED', reply: { id: replyId, content: null } }),
      ]);
      everything.push(log);
    }
    // Legacy: the detail and every list.
    everything.push(await legacyOk(server, customer, 'ticket-detail', { uuid: id }));
    everything.push(await legacyOk(server, customer, 'list', { operator: 'customer', status: 'ALL' }));
    everything.push(await legacyOk(server, staff, 'list', { operator: 'staff', status: 'ALL' }));
    everything.push(await legacyOk(server, scheduler, 'scheduler-list', { operator: 'scheduler', status: 'ALL' }));
    const detail = everything[everything.length - 4] as { 'ticket-detail': { reply: Array<{ uuid: string; content: string }> } };
    expect(detail['ticket-detail'].reply.map((reply) => reply.content)).toEqual(['a reply that stays']);

    // Events replayed from the start of the log (a cursor nobody was given), with and without ticketId.
    const madeUp = encodeEventCursor(1);
    for (const [viewer, variables] of [
      [customer, { after: madeUp }],
      [scheduler, { after: madeUp }],
      [staff, { after: madeUp, ticketId: id }],
      [customer, { after: madeUp, ticketId: id }],
    ] as const) {
      const client = connect(server, viewer);
      clients.push(client);
      const stream = new EventStream(client.client, variables);
      await stream.until((s) => s.events.some((event) => event.kind === 'REPLY_DELETED'), 'the replayed REPLY_DELETED');
      const added = stream.events.find((event) => event.kind === 'REPLY_ADDED' && event.reply?.id === replyId);
      expect(added?.reply).toMatchObject({ id: replyId, content: null });
      expect(stream.events.find((event) => event.kind === 'REPLY_DELETED')?.reply).toMatchObject({ id: replyId, content: null });
      expect(stream.errors).toEqual([]);
      everything.push(stream.events);
      stream.stop();
    }

    // The same replays over Server-Sent Events.
    for (const [viewer, variables] of [
      [customer, { after: madeUp }],
      [scheduler, { after: madeUp, ticketId: id }],
    ] as const) {
      const stream = new SseStream(sseClient(server, viewer), variables);
      try {
        await stream.until((s) => s.events.some((event) => event.kind === 'REPLY_DELETED'), 'the replayed REPLY_DELETED over SSE');
        expect(stream.events.filter((event) => event.reply?.id === replyId).map((event) => [event.kind, event.reply?.content])).toEqual([
          ['REPLY_ADDED', null],
          ['REPLY_DELETED', null],
        ]);
        expect(stream.errors).toEqual([]);
        everything.push(stream.events);
      } finally {
        stream.stop();
      }
    }

    expect(JSON.stringify(everything)).not.toContain('hunter2');

    // Nothing left to leak: the row keeps no text.
    const rows = await server.app.database.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ content: string | null; deleted: boolean }>>('select content, deleted_at is not null as deleted from replies where id = ?', [replyId]);
    expect(rows).toEqual([{ content: null, deleted: true }]);
  });
});
