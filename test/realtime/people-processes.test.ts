import { legacy } from '../support/legacy-client';
import { createTicketAs, gqlOk, walkTo } from '../support/http';
import { freshUser, login, outcomeOf, UPDATE_USER, within } from '../support/people';
import { describeEachSharedBus, serversWithClients } from '../support/live-suite';
import type { TestServer } from '../support/server';
import { connect, EventStream, settled, subscribers } from '../support/live-client';
import { sseClient, SseStream } from './sse-client';

/**
 * Changes to users reach every server process at once (issue 11): two `createApp` instances on
 * one PostgreSQL database, each with its own caches, bus connection and sockets. A change made
 * through A is in force on B within a second, announced over LISTEN/NOTIFY (or Redis when
 * TEST_REDIS_URL is set), not by waiting for B's caches to expire.
 */

const ME = '{ me { id roles } }';

describeEachSharedBus('people across two server processes, changes over %s', (bus, config) => {
  let a: TestServer;
  let b: TestServer;
  const clients = serversWithClients('postgres', 2, { config }, ([first, second]) => ([a, b] = [first, second]));
  const openOn = (server: TestServer, params: Record<string, unknown>) => {
    const client = connect(server, null, params);
    clients.push(client);
    return client;
  };
  const streams: SseStream[] = [];
  afterAll(() => streams.forEach((stream) => stream.stop()));
  /** The same subscription over Server-Sent Events (/graphql/stream) on `server`. */
  const streamOn = (server: TestServer, signer: Parameters<typeof sseClient>[1]) => {
    const stream = new SseStream(sseClient(server, signer));
    streams.push(stream);
    return stream;
  };

  it('a token from one process works on the other', async () => {
    const { token } = await login(a, 'staff', 'correct horse battery');
    expect((await gqlOk(b, { token }, ME)).me.id).toBe(String(a.users.staff.id));
  });

  it("deactivation through A refuses the credential and the token on B within a second and closes B's sockets (4403)", async () => {
    const worker = await freshUser(a, 'leaver', ['STAFF']);
    const { token } = await login(b, worker.username, worker.password);
    // B has verified (and cached) both, and holds a socket opened with each.
    expect(await outcomeOf(b, worker, ME)).toBe('OK');
    expect(await outcomeOf(b, { token }, ME)).toBe('OK');
    const byToken = openOn(b, { token });
    const byCredential = openOn(b, { credential: worker.credential });
    new EventStream(byToken.client);
    new EventStream(byCredential.client);
    // And a dashboard on Server-Sent Events with the same token.
    const stream = streamOn(b, { token });
    await subscribers(b, 3);

    const started = Date.now();
    await gqlOk(a, a.users.admin, UPDATE_USER, { id: worker.id, input: { active: false } });
    const [tokenClosed, credentialClosed] = await Promise.all([byToken.closed, byCredential.closed, stream.ended(1_000)]);
    const closedAfter = Date.now() - started;
    expect([tokenClosed.code, credentialClosed.code]).toEqual([4403, 4403]);
    expect(stream.errors).toEqual([{ message: expect.stringMatching(/^(Account deactivated|Session ended)$/), extensions: { code: 'UNAUTHENTICATED' } }]);
    expect(closedAfter).toBeLessThan(1_000);
    // Refused on B at once (polling only because the announcement crosses a process boundary).
    const refusedAfter = await within(
      1_000,
      'B refuses the deactivated user',
      async () => (await outcomeOf(b, worker, ME)) === 'UNAUTHENTICATED' && (await outcomeOf(b, { token }, ME)) === 'UNAUTHENTICATED',
    );
    expect(refusedAfter).toBeLessThan(1_000);
    const refusedBy = Date.now() - started;
    const check = await legacy(b, worker, 'permission-check');
    expect([check.status, check.body]).toEqual([401, { code: 401, message: 'Invalid credential' }]);
    console.log(`deactivation through A (${bus}): B's sockets closed ${closedAfter} ms after the mutation began; B refused both sign-ins by ${refusedBy} ms`);
  });

  it('revoking a session through A refuses its token on B at once and closes the socket opened with it on B', async () => {
    const user = await freshUser(a, 'revoked', ['CUSTOMER']);
    const session = await login(b, user.username, user.password);
    const other = await login(b, user.username, user.password);
    expect(await outcomeOf(b, { token: session.token }, ME)).toBe('OK');
    const live = openOn(b, { token: session.token });
    const untouched = openOn(b, { token: other.token });
    new EventStream(live.client);
    new EventStream(untouched.client);
    const stream = streamOn(b, { token: session.token });
    await subscribers(b, 3);
    await gqlOk(a, a.users.admin, 'mutation($id: ID!) { revokeSession(id: $id) }', { id: session.sessionId });
    expect((await live.closed).code).toBe(4403);
    await stream.ended(1_000);
    expect(stream.errors).toEqual([{ message: 'Session ended', extensions: { code: 'UNAUTHENTICATED' } }]);
    await within(1_000, 'B refuses the revoked token', async () => (await outcomeOf(b, { token: session.token }, ME)) === 'UNAUTHENTICATED');
    expect(await outcomeOf(b, { token: other.token }, ME)).toBe('OK');
    await untouched.dispose();
    await subscribers(b, 0);
  });

  it("a role change through A reaches an open subscription on B: a staff member who loses STAFF stops receiving their tickets' events", async () => {
    const worker = await freshUser(a, 'demoted', ['STAFF']);
    const id = await createTicketAs(a, a.users.customer, 'watched on B');
    await walkTo(a, id, 'ASSIGNED', { owner: a.users.customer, staff: worker, scheduler: a.users.scheduler });
    const live = openOn(b, { credential: worker.credential });
    const stream = new EventStream(live.client);
    await subscribers(b, 1);
    const REPLY = 'mutation($id: ID!, $c: String!) { addReply(ticketId: $id, content: $c) { id } }';
    await gqlOk(a, a.users.customer, REPLY, { id, c: 'before' });
    await stream.count(1);

    await gqlOk(a, a.users.admin, UPDATE_USER, { id: worker.id, input: { roles: ['CUSTOMER'] } });
    // B's next request sees the new roles.
    await within(1_000, 'B sees the new roles', async () => JSON.stringify((await gqlOk(b, worker, ME)).me.roles) === '["CUSTOMER"]');
    await gqlOk(a, a.users.customer, REPLY, { id, c: 'after' });
    await settled(b);
    await settled(a);
    expect(stream.events.map((event) => event.reply?.content)).toEqual(['before']);
    // And back: events flow again on the same socket.
    await gqlOk(a, a.users.admin, UPDATE_USER, { id: worker.id, input: { roles: ['STAFF'] } });
    await within(1_000, 'B sees STAFF again', async () => JSON.stringify((await gqlOk(b, worker, ME)).me.roles) === '["STAFF"]');
    await gqlOk(a, a.users.customer, REPLY, { id, c: 'again' });
    await stream.count(2);
    expect(stream.events.map((event) => event.reply?.content)).toEqual(['before', 'again']);
    stream.stop();
  });
});
