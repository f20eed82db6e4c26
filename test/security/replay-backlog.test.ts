import { decodeEventCursor, encodeEventCursor } from '../../src/modules/event/event-cursor';
import { createTicketAs, gqlOk } from '../support/http';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { rawConnect, type RawSocket } from '../support/raw-socket';
import { subscribers } from '../support/live-client';

/**
 * Issue 9, "Buffers that grow with someone else's traffic": a subscription resuming from an old
 * cursor registers for live events first and holds them until its replay of the log is done. A
 * replay that is slow (a long log, a subscriber that reads slowly) used to hold every live event
 * committed meanwhile, without bound. Now it holds at most a bounded number (500 by default, 20
 * here); past that it lets them go and pages on through the log, where they are, until it meets
 * the live stream: nothing missed, nothing repeated, memory bounded.
 *
 * The subscriber pauses its socket (TCP back-pressure stalls the server's sends, so the replay
 * waits for it) while 60 live events commit, then reads everything.
 */
const HELD = 20;
const BIG_EVENTS = 100;
const SMALL_EVENTS = 300;
const LIVE_EVENTS = 60;
/** Ten copies of a 60,000-character ticket per frame: the kernel's socket buffers fill within the first page. */
const SELECTION = Array.from({ length: 10 }, (_, i) => `t${i}: ticket { content }`).join(' ');
const QUERY = `subscription($after: String) { ticketEvents(after: $after) { cursor ${SELECTION} } }`;

const cursorOf = (text: string): string => /"cursor":"([A-Za-z0-9_-]+)"/.exec(text.slice(0, 300))?.[1] ?? text.slice(0, 300);

describe.each(DATABASES)('live events held during a replay (%s)', (kind) => {
  let server: TestServer;
  let socket: RawSocket | undefined;

  beforeAll(async () => {
    server = await startServer(kind, { live: { maxHeldDuringReplay: HELD } });
  });
  afterAll(async () => {
    socket?.close();
    await server?.close();
  });

  it('stay bounded while a paused subscriber replays, and every event still arrives once, in order', async () => {
    const { customer } = server.users;
    const big = await createTicketAs(server, customer, 'x'.repeat(60_000));
    const small = await createTicketAs(server, customer, 'small');
    const connection = server.app.database.orm.em.fork().getConnection();
    const lastSeq = async () => Number((await connection.execute<Array<{ seq: string }>>('select max(seq) as seq from ticket_events'))[0].seq);
    const start = await lastSeq();
    // A long log to replay (the log is the state; written in two statements).
    for (const [ticket, count] of [
      [big, BIG_EVENTS],
      [small, SMALL_EVENTS],
    ] as const) {
      await connection.execute(`insert into ticket_events (kind, ticket_id, actor_id, at) select 'EDITED', ?, ?, now() from generate_series(1, ${count})`, [
        ticket,
        customer.id,
      ]);
    }
    // A committed change wakes the hub past those rows (no subscriber yet).
    await gqlOk(server, customer, 'mutation($id: ID!) { addReply(ticketId: $id, content: "before") { id } }', { id: small });

    socket = rawConnect(server, customer.credential, cursorOf);
    expect(await socket.acked).toBe(true);
    socket.subscribe('1', QUERY, { after: encodeEventCursor(start) });
    socket.ws.pause();
    // Registered (its replay begun, live events held from now on) before the live traffic, however
    // long a loaded machine takes; then a while for the first pages to fill the socket's buffers.
    await subscribers(server, 1);
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    // Live traffic while the replay is stuck behind the paused socket.
    for (let i = 0; i < LIVE_EVENTS; i++) {
      await gqlOk(server, customer, 'mutation($id: ID!, $c: String!) { addReply(ticketId: $id, content: $c) { id } }', { id: small, c: `live ${i}` });
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const stats = server.app.live.hub!.stats();
    expect(stats.peakHeldDuringReplay).toBeGreaterThan(0);
    expect(stats.peakHeldDuringReplay).toBeLessThanOrEqual(HELD);
    expect(stats.replayOverflows).toBeGreaterThanOrEqual(1);

    socket.ws.resume();
    const end = await lastSeq();
    const expected = Array.from({ length: end - start }, (_, i) => start + 1 + i);
    const nexts = () => socket!.messages.filter((message) => !message.startsWith('{'));
    await socket.until(() => nexts().length >= expected.length, `${expected.length} events`, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(socket.messages.filter((message) => message.startsWith('{') && !message.includes('connection_ack'))).toEqual([]);
    expect(nexts().map((cursor) => decodeEventCursor(cursor, 'cursor'))).toEqual(expected);
  }, 120_000);
});
