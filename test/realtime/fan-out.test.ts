import { sharedExecutionStats } from '../../src/realtime/shared-execution';
import { gqlOk } from '../support/http';
import { serverWithClients } from '../support/live-suite';
import { DATABASES, type TestServer } from '../support/server';
import { connect, EventStream, settled, subscribers } from '../support/live-client';
import { rawConnect } from '../support/raw-socket';

/**
 * Cost per event: a process reads an event and its ticket once, however many subscribers it
 * serves; per subscriber there is only visibility, flags and selection, no SQL.
 */
describe.each(DATABASES)('fan-out cost (%s)', (kind) => {
  let server: TestServer;
  // 40 sockets of one viewer: above the default cap on sockets per user (32).
  const clients = serverWithClients(kind, { config: { maxSocketsPerUser: 64 } }, (started) => (server = started));

  const SELECTION = `subscription { ticketEvents {
    cursor kind actor { username } reply { content author { username } }
    ticket { id status images customer { id } staff { id } replies { content author { username } } history { status actor { username } }
      permissions { reply edit assign startProcessing requestInformation fix close reopen cancel } }
  } }`;

  /** SQL statements sent while one reply is added and delivered to `count` schedulers (each on its own socket). */
  async function statementsFor(
    count: number,
    ticketId: string,
  ): Promise<{ total: number; eventReads: number; ticketReads: number; hubTicketReads: number; executions: number; serialisations: number }> {
    const opened = Array.from({ length: count }, () => connect(server, server.users.scheduler));
    clients.push(...opened);
    const streams = opened.map((client) => new EventStream(client.client, {}, SELECTION));
    // Every socket acknowledged (a refused one fails here with its close code), then every
    // subscription registered: under load both take a while, and the count waits while it moves.
    await Promise.all(opened.map((client) => client.connected));
    await subscribers(server, count);
    await settled(server);
    const before = server.app.live.hub!.stats();
    const executedBefore = sharedExecutionStats.executed;
    const serialisedBefore = sharedExecutionStats.serialised;
    server.queries.length = 0;
    await gqlOk(server, server.users.customer, 'mutation($id: ID!) { addReply(ticketId: $id, content: "count me") { id } }', { id: ticketId });
    await Promise.all(streams.map((stream) => stream.count(1)));
    const statements = [...server.queries];
    await settled(server);
    for (const stream of streams) {
      expect(stream.errors).toEqual([]);
      expect(stream.events[0].reply?.content).toBe('count me');
      stream.stop();
    }
    await subscribers(server, 0);
    // Reads of the log are counted apart: on PostgreSQL the hub also polls it every 2 s.
    const eventReads = statements.filter((sql) => sql.includes('from ticket_events e')).length;
    return {
      total: statements.length - eventReads,
      eventReads,
      // Reads for the fan-out; the writer's own locking read (`… for update of t`) is the write's.
      ticketReads: statements.filter((sql) => sql.includes('from tickets t') && !/for update/.test(sql)).length,
      hubTicketReads: server.app.live.hub!.stats().ticketReads - before.ticketReads,
      executions: sharedExecutionStats.executed - executedBefore,
      serialisations: sharedExecutionStats.serialised - serialisedBefore,
    };
  }

  it('reads the event and its ticket once per process, whether 1 or 40 subscribers receive it', async () => {
    const { createTicket } = await gqlOk(server, server.users.customer, 'mutation { createTicket(input: { content: "fan out" }) { id } }');
    const one = await statementsFor(1, createTicket.id);
    const many = await statementsFor(40, createTicket.id);
    expect(one.hubTicketReads).toBe(1);
    expect(many.hubTicketReads).toBe(1);
    expect(many.ticketReads).toBe(1);
    expect(many.total).toBe(one.total);
    expect(many.eventReads).toBeLessThanOrEqual(2);
    // One viewer with the same dashboard on 40 sockets: the event is executed once for all 40.
    expect(one.executions).toBe(1);
    expect(many.executions).toBe(1);
    // ... and its result serialised once: the 40 messages differ only in their subscription's id.
    expect(one.serialisations).toBe(1);
    expect(many.serialisations).toBe(1);
  });

  it("sends each socket graphql-ws's own message, its subscription's id included, around the one shared payload", async () => {
    const { createTicket } = await gqlOk(server, server.users.customer, 'mutation { createTicket(input: { content: "spliced" }) { id } }');
    // Ids a client may choose, the placeholder's own text among them: each must come back as sent.
    const ids = ['1', 'say "hi" \\ \u2028 ünïcode', '\u0000shared payload', '","payload":{}}'];
    const sockets = ids.map(() => rawConnect(server, server.users.scheduler.credential));
    try {
      expect(await Promise.all(sockets.map((socket) => socket.acked))).toEqual(ids.map(() => true));
      sockets.forEach((socket, n) => socket.subscribe(ids[n], SELECTION));
      await subscribers(server, ids.length);
      const serialisedBefore = sharedExecutionStats.serialised;
      await gqlOk(server, server.users.customer, 'mutation($id: ID!) { addReply(ticketId: $id, content: "one text") { id } }', { id: createTicket.id });
      const isNext = (text: string) => text.includes('"type":"next"');
      await Promise.all(sockets.map((socket) => socket.until((messages) => messages.some(isNext), 'the event')));
      const texts = sockets.map((socket) => socket.messages.find(isNext)!);
      const messages = texts.map(
        (text) => JSON.parse(text) as { id: string; type: string; payload: { data: { ticketEvents: { reply: { content: string } } } } },
      );
      messages.forEach((message, n) => {
        expect(message.id).toBe(ids[n]);
        expect(message.payload.data.ticketEvents.reply.content).toBe('one text');
        // Byte for byte what graphql-ws writes for a next message: id, type, payload.
        expect(texts[n]).toBe(JSON.stringify({ id: ids[n], type: 'next', payload: message.payload }));
        expect(message.payload).toEqual(messages[0].payload);
      });
      expect(sharedExecutionStats.serialised - serialisedBefore).toBe(1);
    } finally {
      for (const socket of sockets) socket.close();
      await subscribers(server, 0);
    }
  });
});
