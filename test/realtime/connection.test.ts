import { CloseCode, GRAPHQL_TRANSPORT_WS_PROTOCOL, MessageType } from 'graphql-ws';
import WebSocket from 'ws';
import { encodeEventCursor } from '../../src/modules/event/event-cursor';
import { DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION } from '../../src/realtime/graphql-ws.server';
import { gql, gqlOk } from '../support/http';
import { serverWithClients } from '../support/live-suite';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { connect, EventStream, subscribers, TICKET_EVENTS, wsUrl, type LiveClient } from '../support/live-client';

/** The transport: who may connect, what a connection may ask, and how it ends. */
describe.each(DATABASES)('graphql-ws on /graphql (%s)', (kind) => {
  let server: TestServer;
  const clients = serverWithClients(kind, {}, (started) => (server = started));

  const client = (user = server.users.customer): LiveClient => {
    const live = connect(server, user);
    clients.push(live);
    return live;
  };

  const firstErrorCode = (stream: EventStream): unknown => (stream.errors[0] as { extensions?: { code?: string } } | undefined)?.extensions?.code;

  it.each([
    ['no connectionParams', undefined],
    ['no credential', {}],
    ['a credential that is not a string', { credential: 42 }],
    ['a malformed credential', { credential: 'abcd' }],
  ])('closes a connection with %s with 4403 before anything runs', async (_case, params) => {
    const live = connect(server, null, params as Record<string, unknown> | undefined);
    clients.push(live);
    const stream = new EventStream(live.client);
    expect((await live.closed).code).toBe(CloseCode.Forbidden);
    await stream.ended();
    expect(stream.events).toEqual([]);
  });

  it('closes a connection whose password is wrong with 4403', async () => {
    const live = connect(server, { credential: server.credential('customer', 'not the password') });
    clients.push(live);
    new EventStream(live.client);
    expect((await live.closed).code).toBe(CloseCode.Forbidden);
  });

  it('never runs an operation sent before the credential was accepted', async () => {
    const socket = new WebSocket(wsUrl(server), GRAPHQL_TRANSPORT_WS_PROTOCOL);
    const messages: string[] = [];
    socket.on('message', (data) => messages.push(String(data)));
    await new Promise((resolve) => socket.once('open', resolve));
    // Pipelined: the subscribe arrives while the (missing) credential is being checked.
    socket.send(JSON.stringify({ type: MessageType.ConnectionInit, payload: {} }));
    socket.send(JSON.stringify({ id: '1', type: MessageType.Subscribe, payload: { query: TICKET_EVENTS } }));
    const code = await new Promise<number>((resolve) => socket.once('close', (closeCode) => resolve(closeCode)));
    expect([CloseCode.Unauthorized, CloseCode.Forbidden]).toContain(code);
    expect(messages).toEqual([]);
    expect(server.app.live.hub?.stats().subscribers).toBe(0);
  });

  it('refuses upgrades on other paths', async () => {
    const socket = new WebSocket(`${wsUrl(server).replace(/\/graphql$/, '/elsewhere')}`, GRAPHQL_TRANSPORT_WS_PROTOCOL);
    const status = await new Promise<number | undefined>((resolve) => {
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode));
      socket.once('error', () => resolve(undefined));
    });
    expect(status).toBe(404);
  });

  it('keeps plain GET /graphql for Apollo', async () => {
    const response = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it(`bounds operations per connection at ${DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION}`, async () => {
    const live = client();
    const streams = Array.from({ length: DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION }, () => new EventStream(live.client));
    await subscribers(server, DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION);
    const extra = new EventStream(live.client);
    await extra.ended();
    expect(firstErrorCode(extra)).toBe('TOO_MANY_REQUESTS');
    // The others are unaffected, and a freed slot can be used again.
    streams[0].stop();
    await subscribers(server, DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION - 1);
    const again = new EventStream(live.client);
    await subscribers(server, DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION);
    expect(again.errors).toEqual([]);
    for (const stream of [...streams, again]) stream.stop();
    await subscribers(server, 0);
  });

  it.each([
    ['a malformed ticketId', { ticketId: 'not-a-uuid' }, 'BAD_USER_INPUT', 'ticketId'],
    ['a malformed cursor', { after: 'bm90IGEgY3Vyc29y' }, 'BAD_USER_INPUT', 'after'],
    ['a cursor of another API', { after: Buffer.from('ticket:1').toString('base64url') }, 'BAD_USER_INPUT', 'after'],
    ['a cursor beyond the end of the log', { after: encodeEventCursor(1_000_000_000) }, 'BAD_USER_INPUT', 'after'],
    ['a ticket that does not exist', { ticketId: '01900000-0000-7000-8000-000000000000' }, 'NOT_FOUND', undefined],
  ])('refuses a subscription with %s', async (_case, variables, code, field) => {
    const stream = new EventStream(client().client, variables);
    await stream.ended();
    expect(stream.errors).toHaveLength(1);
    expect(stream.errors[0]).toMatchObject({ extensions: { code, ...(field ? { field } : {}) } });
    expect(JSON.stringify(stream.errors)).not.toMatch(/stack|\.ts:/);
  });

  it('refuses a single-ticket subscription the viewer may not see now with FORBIDDEN', async () => {
    const { users } = server;
    const { createTicket } = await gqlOk(server, users.customer, 'mutation { createTicket(input: { content: "mine" }) { id } }');
    for (const user of [users.otherCustomer, users.staff]) {
      // The staff member: not assigned, and the ticket is NEW anyway.
      const stream = new EventStream(client(user).client, { ticketId: createTicket.id });
      await stream.ended();
      expect(firstErrorCode(stream)).toBe('FORBIDDEN');
      expect((stream.errors[0] as { message: string }).message).toBe('You are not allowed to check this ticket');
    }
  });

  it('answers a subscription sent over HTTP with an error, not a 500', async () => {
    const result = await gql(server, server.users.customer, 'subscription { ticketEvents { cursor } }');
    expect(result.status).toBeLessThan(500);
    expect(result.errors?.length).toBeGreaterThan(0);
  });
});

describe.each(DATABASES)('shutdown (%s)', (kind) => {
  it('delivers what committed, then closes sockets with 1001 and refuses new ones', async () => {
    const server = await startServer(kind);
    const live = connect(server, server.users.scheduler);
    try {
      const stream = new EventStream(live.client);
      await subscribers(server, 1);
      await gqlOk(server, server.users.customer, 'mutation { createTicket(input: { content: "last words" }) { id } }');
      // No waiting for the event: closing must deliver it before the socket goes.
      const closing = server.close();
      const closed = await live.closed;
      expect(closed.code).toBe(1001);
      expect(stream.kinds).toEqual(['CREATED']);
      await closing;
    } finally {
      await live.dispose();
      await server.close();
    }
  });
});
