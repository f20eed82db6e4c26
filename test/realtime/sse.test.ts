import { request as httpRequest } from 'node:http';
import type { Client } from 'graphql-sse';
import { gqlOk } from '../support/http';
import { freshUser, login, UPDATE_USER } from '../support/people';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { connect, EventStream, settled, subscribers } from '../support/live-client';
import { sseClient, SseStream, streamUrl } from './sse-client';

/**
 * `ticketEvents` over GraphQL over Server-Sent Events (graphql-sse) at /graphql/stream, with the
 * real graphql-sse client: the same authentication, per-viewer delivery, resume, limits and
 * shutdown as over graphql-ws. Two processes on one PostgreSQL database: sse-processes.test.ts.
 */
describe.each(DATABASES)('GraphQL over SSE (%s)', (kind) => {
  let server: TestServer;
  const clients: Client[] = [];
  const open = (signer: Parameters<typeof sseClient>[1], variables: { ticketId?: string; after?: string } = {}, query?: string) => {
    const client = sseClient(server, signer);
    clients.push(client);
    return new SseStream(client, variables, query);
  };

  beforeAll(async () => {
    server = await startServer(kind, { config: { maxSocketsPerUser: 3 } });
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.dispose();
    await subscribers(server, 0);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('delivers each event to whoever may see it, with their own permission flags (credential and token alike)', async () => {
    const { customer, otherCustomer, staff, scheduler } = server.users;
    const { token } = await login(server, 'customer', 'correct horse battery');
    const streams = {
      customer: open({ token }),
      otherCustomer: open(otherCustomer),
      staff: open(staff),
      scheduler: open(scheduler),
    };
    await subscribers(server, 4);
    const { createTicket } = await gqlOk(server, customer, 'mutation { createTicket(input: { content: "over SSE" }) { id } }');
    // CREATED delivered before the assignment: the writer's process fans it out from the ticket as
    // its transaction left it (NEW), but when the hub reads it from the log instead (a read already
    // under way, or the wait for the writer's note ran out on a loaded machine), it carries the
    // ticket as it is then, and after the assignment that is the staff member's, no longer editable.
    await Promise.all([streams.scheduler.count(1), streams.customer.count(1)]);
    await gqlOk(server, scheduler, `mutation($id: ID!) { assignTicket(id: $id, staffId: "${staff.id}") { id } }`, { id: createTicket.id });
    await streams.scheduler.count(2);
    await streams.staff.count(1);
    await streams.customer.count(2);
    await settled(server);

    expect(streams.scheduler.kinds).toEqual(['CREATED', 'STATUS_CHANGED']);
    expect(streams.customer.kinds).toEqual(['CREATED', 'STATUS_CHANGED']);
    // Staff never see a NEW ticket; assigned, they do.
    expect(streams.staff.kinds).toEqual(['STATUS_CHANGED']);
    expect(streams.otherCustomer.kinds).toEqual([]);
    expect(streams.customer.events[0].ticket.permissions).toMatchObject({ edit: true, cancel: true, assign: false });
    expect(streams.scheduler.events[0].ticket.permissions).toMatchObject({ assign: true, edit: false });
    expect(streams.staff.events[0].ticket.permissions).toMatchObject({ startProcessing: true, assign: false });
  });

  it('resumes with after: what was committed while away is replayed, then live, nothing repeated', async () => {
    const { customer } = server.users;
    const first = open(customer);
    await subscribers(server, 1);
    const { createTicket } = await gqlOk(server, customer, 'mutation { createTicket(input: { content: "resume me" }) { id } }');
    await first.count(1);
    first.stop();
    await subscribers(server, 0);
    const REPLY = 'mutation($id: ID!, $c: String!) { addReply(ticketId: $id, content: $c) { id } }';
    await gqlOk(server, customer, REPLY, { id: createTicket.id, c: 'while away 1' });
    await gqlOk(server, customer, REPLY, { id: createTicket.id, c: 'while away 2' });

    const second = open(customer, { after: first.events[0].cursor });
    await second.count(2);
    await gqlOk(server, customer, REPLY, { id: createTicket.id, c: 'live' });
    await second.count(3);
    await settled(server);
    expect(second.events.map((event) => event.reply?.content)).toEqual(['while away 1', 'while away 2', 'live']);
  });

  it('refuses a missing, malformed or wrong credential with 401 and a GraphQL error body, before reading the body', async () => {
    for (const signer of [null, { credential: 'not-hex' }, { credential: server.credential('customer', 'wrong password') }, { token: 'x'.repeat(43) }]) {
      const stream = open(signer);
      await stream.ended();
      expect(stream.refusedWith).toBe(401);
      expect(stream.events).toEqual([]);
    }
    const response = await fetch(streamUrl(server), {
      method: 'POST',
      headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: 'Credential 00' },
      body: JSON.stringify({ query: 'subscription { ticketEvents { cursor } }' }),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED' } }] });

    // Headers announcing a 1 MB body and no body at all: the refusal still comes, so it came first.
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(streamUrl(server), {
        method: 'POST',
        headers: { accept: 'text/event-stream', 'content-type': 'application/json', 'content-length': String(1024 * 1024) },
      });
      request.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        request.destroy();
      });
      request.on('error', reject);
      request.flushHeaders();
    });
    expect(status).toBe(401);
  });

  it('answers documents it cannot run with GraphQL errors in the stream, and refuses queries and mutations', async () => {
    const { customer } = server.users;
    const cases: Array<[string, string]> = [
      ['subscription { ticketEvents { nope } }', 'GRAPHQL_VALIDATION_FAILED'],
      ['subscription {', 'GRAPHQL_PARSE_FAILED'],
      ['{ me { id } }', 'BAD_REQUEST'],
      ['mutation { logout }', 'BAD_REQUEST'],
      ['subscription($after: String) { ticketEvents(after: $after) { cursor } }', 'BAD_USER_INPUT'],
    ];
    for (const [query, code] of cases) {
      const stream = open(customer, code === 'BAD_USER_INPUT' ? { after: 'not a cursor' } : {}, query);
      await stream.ended();
      expect({ query, codes: stream.errors.map((error) => error.extensions?.code), completed: stream.completed }).toEqual({
        query,
        codes: [code],
        completed: true,
      });
    }
    const refused = open(customer, {}, '{ me { id } }');
    await refused.ended();
    expect(refused.errors[0].message).toBe('Only subscriptions are served at /graphql/stream; send queries and mutations to POST /graphql');
  });

  it('counts streams and sockets together against the per-user limit (429 with a reason), other users unaffected', async () => {
    const { customer, otherCustomer } = server.users;
    const socket = connect(server, customer);
    try {
      new EventStream(socket.client);
      open(customer);
      open(customer);
      await subscribers(server, 3);
      const refused = open(customer);
      await refused.ended();
      expect(refused.refusedWith).toBe(429);
      const response = await fetch(streamUrl(server), {
        method: 'POST',
        headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: `Credential ${customer.credential}` },
        body: JSON.stringify({ query: 'subscription { ticketEvents { cursor } }' }),
      });
      expect(response.status).toBe(429);
      expect(((await response.json()) as { errors: unknown[] }).errors[0]).toEqual({
        message: 'Too many open connections for this user (at most 3): close one first',
        extensions: { code: 'TOO_MANY_REQUESTS' },
      });
      open(otherCustomer);
      await subscribers(server, 4);
    } finally {
      await socket.dispose();
    }
  });

  it('ends the streams of a deactivated user with UNAUTHENTICATED (no reconnect loop), as it closes their sockets', async () => {
    const worker = await freshUser(server, 'sse-leaver', ['CUSTOMER']);
    const { token } = await login(server, worker.username, worker.password);
    const byCredential = open(worker);
    const byToken = open({ token });
    const bystander = open(server.users.customer);
    await subscribers(server, 3);
    await gqlOk(server, server.users.admin, UPDATE_USER, { id: worker.id, input: { active: false } });
    await Promise.all([byCredential.ended(), byToken.ended()]);
    expect(byCredential.errors).toEqual([{ message: 'Account deactivated', extensions: { code: 'UNAUTHENTICATED' } }]);
    // Deactivation ends the user's sessions too: whichever of the two changes arrives first ends the stream.
    expect(byToken.errors).toEqual([{ message: expect.stringMatching(/^(Account deactivated|Session ended)$/), extensions: { code: 'UNAUTHENTICATED' } }]);
    expect([byCredential.completed, byToken.completed]).toEqual([true, true]);
    await subscribers(server, 1);
    expect(bystander.completed).toBe(false);
    expect(server.app.live.signIns.countOf(worker.id)).toBe(0);
  });

  it("ends a session's streams when the session is revoked", async () => {
    const worker = await freshUser(server, 'sse-revoked', ['CUSTOMER']);
    const session = await login(server, worker.username, worker.password);
    const stream = open({ token: session.token });
    await subscribers(server, 1);
    await gqlOk(server, server.users.admin, 'mutation($id: ID!) { revokeSession(id: $id) }', { id: session.sessionId });
    await stream.ended();
    expect(stream.errors).toEqual([{ message: 'Session ended', extensions: { code: 'UNAUTHENTICATED' } }]);
  });

  it('refuses a body over 64 KiB with 413, as graphql-ws refuses a message over 64 KiB', async () => {
    const response = await fetch(streamUrl(server), {
      method: 'POST',
      headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: `Credential ${server.users.customer.credential}` },
      body: JSON.stringify({ query: `subscription { ticketEvents { cursor } } # ${'x'.repeat(70 * 1024)}` }),
    });
    expect(response.status).toBe(413);
    await response.arrayBuffer();
  });

  it('answers 406 to a request that does not accept an event stream, and 405 to single connection mode', async () => {
    const { customer } = server.users;
    const notStream = await fetch(streamUrl(server), {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json', authorization: `Credential ${customer.credential}` },
      body: JSON.stringify({ query: 'subscription { ticketEvents { cursor } }' }),
    });
    expect(notStream.status).toBe(406);
    expect(((await notStream.json()) as { errors: Array<{ message: string }> }).errors[0].message).toMatch(/Accept: text\/event-stream/);
    const reserve = await fetch(streamUrl(server), { method: 'PUT', headers: { authorization: `Credential ${customer.credential}` } });
    expect(reserve.status).toBe(405);
    expect(((await reserve.json()) as { errors: Array<{ message: string }> }).errors[0].message).toMatch(/Single connection mode is not offered/);
  });

  // Last: the server stops taking streams (what shutdown does first).
  it('refuses new streams with 503 once the server stops accepting them', async () => {
    server.app.live.streams!.stopAccepting();
    const stream = open(server.users.customer);
    await stream.ended();
    expect(stream.refusedWith).toBe(503);
  });
});

describe.each(DATABASES)('GraphQL over SSE on shutdown (%s)', (kind) => {
  it('ends open streams when the server closes: the client sees the stream drop (and would reconnect)', async () => {
    const server = await startServer(kind);
    const client = sseClient(server, server.users.scheduler);
    try {
      const stream = new SseStream(client);
      await subscribers(server, 1);
      await gqlOk(server, server.users.customer, 'mutation { createTicket(input: { content: "before close" }) { id } }');
      await stream.count(1);
      const started = Date.now();
      const closing = server.close();
      await stream.ended();
      const endedAfter = Date.now() - started;
      await closing;
      console.log(`SSE shutdown (${kind}): stream ended ${endedAfter} ms, server closed ${Date.now() - started} ms after close() began`);
      // Dropped, not completed: graphql-sse's client reconnects after this (here retries are off).
      expect(stream.completed).toBe(false);
      expect(String(stream.failure)).toMatch(/NetworkError|Connection closed|fetch failed|terminated/);
      expect(server.app.live.signIns.count()).toBe(0);
    } finally {
      client.dispose();
      await server.close();
    }
  });
});
