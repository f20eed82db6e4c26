import { connect as tcpConnect, type Socket } from 'node:net';
import { createTicketAs, gqlOk } from '../support/http';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { rawConnect, type RawSocket } from '../support/raw-socket';
import { settled, subscribers } from '../support/live-client';

/**
 * Issue 9, "Buffers that grow with someone else's traffic", for live subscribers that stop
 * reading: the server writes an event only once the previous one was handed to the socket
 * (graphql-ws awaits each send; the SSE stream awaits each write), so a client that does not read
 * stalls its own subscription, whose queue the hub bounds (`maxBacklog`, 1,000 by default, 20
 * here): past it the subscription is ended with SERVICE_UNAVAILABLE and the cursor to resume from.
 * Without that back-pressure the server would buffer every event for the client (here 80 frames
 * of about 600 KB each) and deliver them all.
 */
const BACKLOG = 20;
const EVENTS = 80;
/** Ten copies of a 60,000-character ticket per event: a few events fill the kernel's socket buffers. */
const SELECTION = Array.from({ length: 10 }, (_, i) => `t${i}: ticket { content }`).join(' ');
const QUERY = `subscription($id: ID!) { ticketEvents(ticketId: $id) { cursor ${SELECTION} } }`;
const BEHIND = new RegExp(`fell more than ${BACKLOG} events behind; resubscribe with after: \\\\?"[A-Za-z0-9_-]+`);

describe.each(DATABASES)('a live subscriber that stops reading (%s)', (kind) => {
  let server: TestServer;
  let ticket: string;
  let socket: RawSocket | undefined;
  let stream: Socket | undefined;

  beforeAll(async () => {
    server = await startServer(kind, { live: { maxBacklog: BACKLOG } });
    ticket = await createTicketAs(server, server.users.customer, 'x'.repeat(60_000));
  });
  afterAll(async () => {
    socket?.close();
    stream?.destroy();
    await server?.close();
  });

  /** Commits EVENTS replies on the big ticket while the subscriber does not read. */
  async function traffic(): Promise<void> {
    for (let i = 0; i < EVENTS; i++) {
      await gqlOk(server, server.users.customer, 'mutation($id: ID!, $c: String!) { addReply(ticketId: $id, content: $c) { id } }', {
        id: ticket,
        c: `live ${i}`,
      });
    }
    await settled(server);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }

  it('over graphql-ws: cut off at the bound with its resume cursor, not buffered', async () => {
    const before = server.app.live.hub!.stats().subscribers;
    // Each `next` kept as its cursor only; anything else (errors) as the start of its text.
    socket = rawConnect(server, server.users.customer.credential, (text) =>
      text.includes('"type":"next"') && text.includes('"cursor"') ? 'event' : text.slice(0, 400),
    );
    expect(await socket.acked).toBe(true);
    socket.subscribe('1', QUERY, { id: ticket });
    await subscribers(server, before + 1);
    socket.ws.pause();
    await traffic();
    socket.ws.resume();
    await socket.until((messages) => messages.some((message) => BEHIND.test(message)), 'the cut-off', 30_000);
    const delivered = socket.messages.filter((message) => message === 'event').length;
    expect(delivered).toBeLessThan(EVENTS - BACKLOG);
    expect(server.app.live.hub!.stats().subscribers).toBe(before);
    // The socket stays usable for other operations.
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
  }, 90_000);

  it('over Server-Sent Events: cut off at the bound with its resume cursor, not buffered', async () => {
    const before = server.app.live.hub!.stats().subscribers;
    const url = new URL(server.url);
    const body = JSON.stringify({ query: QUERY, variables: { id: ticket } });
    const received: Buffer[] = [];
    stream = tcpConnect(Number(url.port), url.hostname);
    const socketOpen = stream;
    await new Promise<void>((resolve) => socketOpen.once('connect', resolve));
    socketOpen.on('data', (chunk: Buffer) => received.push(chunk));
    socketOpen.write(
      [
        'POST /graphql/stream HTTP/1.1',
        `host: ${url.host}`,
        'content-type: application/json',
        'accept: text/event-stream',
        `authorization: Credential ${server.users.customer.credential}`,
        `content-length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n'),
    );
    await subscribers(server, before + 1);
    socketOpen.pause();
    await traffic();
    socketOpen.resume();
    const text = () => Buffer.concat(received).toString('utf8');
    const deadline = Date.now() + 30_000;
    while (!BEHIND.test(text()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const shown = text().replace(/x{20,}/g, 'x…');
    expect(shown.slice(-1500)).toMatch(BEHIND);
    const delivered = text()
      .split('event: next')
      .filter((part) => part.includes('"cursor"')).length;
    expect(delivered).toBeLessThan(EVENTS - BACKLOG);
    expect(server.app.live.hub!.stats().subscribers).toBe(before);
  }, 90_000);
});
