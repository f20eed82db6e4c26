import { createTicketAs, errorCode, gql } from '../support/http';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { connect, EventStream, settled, subscribers, type LiveClient } from '../support/live-client';
import { sseClient, SseStream } from '../realtime/sse-client';

/**
 * Issue 9, "Document analysis that multiplies": a document of about 1 KB whose fragments each
 * spread the next one twice stands for 2^levels copies of its last fragment. Every walk over a
 * document (validation and cost, the selection analysis of `ticket`, `tickets`, the reload after
 * a mutation and `ticketEvents`, graphql-jit's compiler) must visit each fragment once, so the
 * answer (or the refusal) comes at once and `/healthz` keeps answering meanwhile.
 *
 * The server runs in this process, so a walk that blocks the event loop shows as a long gap
 * between two `/healthz` answers. The bound is generous (seconds, where the walks now take
 * milliseconds); before the fix, graphql-jit alone took 0.9 s at 20 levels and doubles per level,
 * so at 24 levels these requests took tens of seconds each.
 */
const LEVELS = 24;
/** Far above what any of these requests now takes, far below what they took before. */
const BOUND_MS = 3_000;

/**
 * `levels` fragments `on` a type, each spreading the next twice, the last one selecting `leaf`.
 * `__typename` costs nothing in the cost limit, so such a document passes validation and reaches
 * the resolvers; a leaf that costs something is refused by the cost limit instead.
 */
function chain(on: string, leaf: string, levels = LEVELS, prefix = 'F'): string {
  const lines: string[] = [];
  for (let level = 0; level < levels; level++) lines.push(`fragment ${prefix}${level} on ${on}{...${prefix}${level + 1} ...${prefix}${level + 1}}`);
  lines.push(`fragment ${prefix}${levels} on ${on}{${leaf}}`);
  return lines.join('\n');
}

const TICKET_CHAIN = chain('Ticket', '__typename');

/** Runs `attack` while polling /healthz; the longest wait for a health answer, and the attack's time. */
async function watched<T>(
  server: TestServer,
  attack: () => Promise<T>,
): Promise<{ result: T; elapsedMs: number; longestHealthGapMs: number; healthAnswers: number }> {
  let done = false;
  let healthAnswers = 0;
  let longestHealthGapMs = 0;
  const poll = (async () => {
    let last = Date.now();
    while (!done) {
      const response = await fetch(`${server.url}/healthz`);
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      const now = Date.now();
      longestHealthGapMs = Math.max(longestHealthGapMs, now - last);
      last = now;
      healthAnswers++;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const started = Date.now();
  try {
    const result = await attack();
    return { result, elapsedMs: Date.now() - started, longestHealthGapMs, healthAnswers };
  } finally {
    done = true;
    await poll;
  }
}

describe.each(DATABASES)('fragments that each spread the next one twice (%s)', (kind) => {
  let server: TestServer;
  let ticketId: string;
  const clients: LiveClient[] = [];
  beforeAll(async () => {
    server = await startServer(kind);
    ticketId = await createTicketAs(server, server.users.customer, 'A ticket to read through fragments');
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await server?.close();
  });

  it('the documents are about 1 KB and 20+ levels deep', () => {
    expect(LEVELS).toBeGreaterThanOrEqual(20);
    expect(Buffer.byteLength(TICKET_CHAIN)).toBeLessThanOrEqual(1_100);
  });

  it.each([
    [
      'ticket',
      (_id: string) => `query($id: ID!) { ticket(id: $id) { id ...F0 } }`,
      (data: any, id: string) => expect(data.ticket).toEqual({ id, __typename: 'Ticket' }),
    ],
    [
      'tickets',
      () => `query { tickets(first: 5) { edges { node { id ...F0 } } } }`,
      (data: any, id: string) => expect(data.tickets.edges.map((edge: any) => edge.node)).toContainEqual({ id, __typename: 'Ticket' }),
    ],
  ])('a query (%s) is answered at once, /healthz answering throughout', async (_name, root, check) => {
    const query = `${root(ticketId)}\n${TICKET_CHAIN}`;
    const { result, elapsedMs, longestHealthGapMs, healthAnswers } = await watched(server, () => gql(server, server.users.customer, query, { id: ticketId }));
    expect(result.errors).toBeUndefined();
    check(result.data, ticketId);
    expect(healthAnswers).toBeGreaterThan(0);
    expect(elapsedMs).toBeLessThan(BOUND_MS);
    expect(longestHealthGapMs).toBeLessThan(BOUND_MS);
  });

  it('a mutation (the reload after createTicket, editTicket) is answered at once', async () => {
    const create = `mutation { createTicket(input: { content: "Filed through fragments" }) { id status ...F0 } }\n${TICKET_CHAIN}`;
    const created = await watched(server, () => gql(server, server.users.customer, create));
    expect(created.result.errors).toBeUndefined();
    expect(created.result.data?.createTicket).toMatchObject({ status: 'NEW', __typename: 'Ticket' });
    expect(created.elapsedMs).toBeLessThan(BOUND_MS);
    expect(created.longestHealthGapMs).toBeLessThan(BOUND_MS);

    const edit = `mutation($id: ID!) { editTicket(id: $id, input: { content: "Edited through fragments" }) { content ...F0 } }\n${TICKET_CHAIN}`;
    const edited = await watched(server, () => gql(server, server.users.customer, edit, { id: created.result.data?.createTicket.id }));
    expect(edited.result.errors).toBeUndefined();
    expect(edited.result.data?.editTicket).toEqual({ content: 'Edited through fragments', __typename: 'Ticket' });
    expect(edited.elapsedMs).toBeLessThan(BOUND_MS);
    expect(edited.longestHealthGapMs).toBeLessThan(BOUND_MS);
  });

  it('a query and a mutation over graphql-ws are answered at once', async () => {
    const live = connect(server, server.users.customer);
    clients.push(live);
    const once = (query: string, variables?: Record<string, unknown>) =>
      new Promise<any>((resolve, reject) => {
        let result: unknown;
        live.client.subscribe({ query, variables }, { next: (value) => (result = value), error: reject, complete: () => resolve(result) });
      });
    const read = await watched(server, () => once(`query($id: ID!) { ticket(id: $id) { id ...F0 } }\n${TICKET_CHAIN}`, { id: ticketId }));
    expect(read.result.errors).toBeUndefined();
    expect(read.result.data.ticket).toEqual({ id: ticketId, __typename: 'Ticket' });
    const write = await watched(server, () => once(`mutation { createTicket(input: { content: "Filed over graphql-ws" }) { status ...F0 } }\n${TICKET_CHAIN}`));
    expect(write.result.errors).toBeUndefined();
    expect(write.result.data.createTicket).toEqual({ status: 'NEW', __typename: 'Ticket' });
    for (const run of [read, write]) {
      expect(run.elapsedMs).toBeLessThan(BOUND_MS);
      expect(run.longestHealthGapMs).toBeLessThan(BOUND_MS);
    }
  });

  it('a subscription is accepted at once and delivers its events', async () => {
    const live = connect(server, server.users.customer);
    clients.push(live);
    const before = server.app.live.hub?.stats().subscribers ?? 0;
    const query = `subscription { ticketEvents { kind ticket { id ...F0 } } }\n${TICKET_CHAIN}`;
    const {
      result: stream,
      elapsedMs,
      longestHealthGapMs,
    } = await watched(server, async () => {
      const opened = new EventStream(live.client, {}, query);
      await subscribers(server, before + 1, BOUND_MS);
      return opened;
    });
    expect(elapsedMs).toBeLessThan(BOUND_MS);
    expect(longestHealthGapMs).toBeLessThan(BOUND_MS);
    const id = await createTicketAs(server, server.users.customer, 'Seen by a subscription through fragments');
    await settled(server);
    await stream.count(1);
    expect(stream.errors).toEqual([]);
    expect(stream.events).toContainEqual({ kind: 'CREATED', ticket: { id, __typename: 'Ticket' } });
    stream.stop();
  });

  it('a query sent with GET is answered at once', async () => {
    const query = `query($id: ID!) { ticket(id: $id) { id ...F0 } }\n${TICKET_CHAIN}`;
    const url = `${server.url}/graphql?${new URLSearchParams({ query, variables: JSON.stringify({ id: ticketId }) })}`;
    const { result, elapsedMs, longestHealthGapMs } = await watched(server, async () => {
      const response = await fetch(url, { headers: { authorization: `Credential ${server.users.customer.credential}`, 'apollo-require-preflight': 'true' } });
      return (await response.json()) as { data?: any; errors?: unknown };
    });
    expect(result.errors).toBeUndefined();
    expect(result.data.ticket).toEqual({ id: ticketId, __typename: 'Ticket' });
    expect(elapsedMs).toBeLessThan(BOUND_MS);
    expect(longestHealthGapMs).toBeLessThan(BOUND_MS);
  });

  it('a subscription over Server-Sent Events (/graphql/stream) is accepted at once and delivers its events', async () => {
    const before = server.app.live.hub?.stats().subscribers ?? 0;
    const query = `subscription { ticketEvents { kind ticket { id ...F0 } } }\n${TICKET_CHAIN}`;
    const {
      result: stream,
      elapsedMs,
      longestHealthGapMs,
    } = await watched(server, async () => {
      const opened = new SseStream(sseClient(server, server.users.customer), {}, query);
      await subscribers(server, before + 1, BOUND_MS);
      return opened;
    });
    try {
      expect(elapsedMs).toBeLessThan(BOUND_MS);
      expect(longestHealthGapMs).toBeLessThan(BOUND_MS);
      const id = await createTicketAs(server, server.users.customer, 'Seen over SSE through fragments');
      await settled(server);
      await stream.until((s) => s.events.some((event) => event.ticket.id === id), 'the CREATED event over SSE');
      expect(stream.errors).toEqual([]);
      expect(stream.events).toContainEqual({ kind: 'CREATED', ticket: { id, __typename: 'Ticket' } });
    } finally {
      stream.stop();
    }
  });

  it.each([
    ['fields on Query, each fragment spreading the next twice', `query { ...Q0 }\n${chain('Query', 'me { id }', LEVELS, 'Q')}`],
    ['a costly leaf under a ticket', `query($id: ID!) { ticket(id: $id) { ...F0 } }\n${chain('Ticket', 'id status customer { id }')}`],
    ['a costly leaf under a mutation', `mutation { createTicket(input: { content: "never filed" }) { ...F0 } }\n${chain('Ticket', 'id replies { id }')}`],
  ])('a document whose expansion is costly is refused by the cost limit at once: %s', async (_name, query) => {
    const { result, elapsedMs, longestHealthGapMs } = await watched(server, () => gql(server, server.users.customer, query, { id: ticketId }));
    expect(result.status).toBe(400);
    expect(errorCode(result)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(result.errors?.[0]?.message).toMatch(/^Query cost limit of 60000 exceeded/);
    expect(elapsedMs).toBeLessThan(BOUND_MS);
    expect(longestHealthGapMs).toBeLessThan(BOUND_MS);
  });

  it('a refused mutation files nothing', async () => {
    const before = await gql(server, server.users.customer, '{ tickets(first: 100) { totalCount } }');
    await gql(server, server.users.customer, `mutation { createTicket(input: { content: "never filed" }) { ...F0 } }\n${chain('Ticket', 'id replies { id }')}`);
    const after = await gql(server, server.users.customer, '{ tickets(first: 100) { totalCount } }');
    expect(after.data?.tickets.totalCount).toBe(before.data?.tickets.totalCount);
  });
});
