import { ApolloClient, InMemoryCache } from '@apollo/client';
import WebSocket from 'ws';
import { wsUrl, settled, subscribers } from '../support/live-client';
import { gqlOk } from '../support/http';
import { login } from '../support/people';
import { DATABASES, PASSWORD, startServer, type TestServer } from '../support/server';
import * as apollo from './recipes/apollo';
import * as sse from './recipes/graphql-sse';
import * as ws from './recipes/graphql-ws';
import * as urql from './recipes/urql';

/**
 * The client recipes of docs/clients.md (test/clients/recipes/*.ts, quoted verbatim there; see
 * docs-sync.test.ts) run with the real libraries against a real server: a query, a mutation, and
 * `ticketEvents` updating what the client holds, here when a scheduler assigns the ticket.
 */
async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface ListData {
  tickets: { edges: Array<{ node: { id: string; status: string; permissions: Record<string, boolean> } }> };
}
const nodeOf = (data: ListData | null | undefined, id: string) => data?.tickets.edges.find((edge) => edge.node.id === id)?.node;

describe.each(DATABASES)('client recipes against the server (%s)', (kind) => {
  let server: TestServer;
  let token: string;
  const disposers: Array<() => void | Promise<void>> = [];
  const endpoints = () => ({ httpUrl: `${server.url}/graphql`, wsUrl: wsUrl(server), token, webSocketImpl: WebSocket });

  /** A fresh ticket of the customer's, NEW. */
  const newTicket = async (content: string): Promise<string> =>
    (await gqlOk(server, server.users.customer, 'mutation($c: String!) { createTicket(input: { content: $c }) { id } }', { c: content })).createTicket.id;
  const assign = (id: string) =>
    gqlOk(server, server.users.scheduler, `mutation($id: ID!) { assignTicket(id: $id, staffId: "${server.users.staff.id}") { id } }`, { id });

  beforeAll(async () => {
    server = await startServer(kind);
    token = (await login(server, 'customer', PASSWORD)).token;
  });
  afterEach(async () => {
    for (const dispose of disposers.splice(0)) await dispose();
    await subscribers(server, 0);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('Apollo Client: HTTP with the token, GraphQLWsLink for ticketEvents, the event updates the cached list', async () => {
    const id = await newTicket('apollo');
    const socket = apollo.createSocket(endpoints());
    const client = apollo.createApolloClient({ ...endpoints(), socket });
    disposers.push(
      () => client.stop(),
      () => socket.dispose(),
    );

    const listed = await client.query<ListData>({ query: apollo.TICKETS });
    expect(nodeOf(listed.data, id)).toMatchObject({ status: 'NEW', permissions: { edit: true, cancel: true, assign: false } });
    const kinds: string[] = [];
    const subscription = client
      .subscribe<{ ticketEvents: { kind: string } }>({ query: apollo.TICKET_EVENTS })
      .subscribe({ next: ({ data }) => data && kinds.push(data.ticketEvents.kind) });
    disposers.push(() => subscription.unsubscribe());
    await subscribers(server, 1);

    const edited = await client.mutate({ mutation: apollo.EDIT_TICKET, variables: { id, content: 'apollo, edited' } });
    expect(edited.data).toEqual({ editTicket: { __typename: 'Ticket', id, content: 'apollo, edited' } });
    await assign(id);
    await until('EDITED and STATUS_CHANGED', () => kinds.length >= 2);
    await settled(server);
    expect(kinds).toEqual(['EDITED', 'STATUS_CHANGED']);

    // The event's ticket (two flags) was merged into the cached one (nine flags): the list reads
    // back whole, with the event's status and flags. The flags the event did not select keep the
    // value the list last fetched: `edit` still says true, though an ASSIGNED ticket is not
    // editable by its customer (docs/clients.md: select in the subscription every flag a view shows).
    const cached = client.readQuery<ListData>({ query: apollo.TICKETS });
    expect(nodeOf(cached, id)).toMatchObject({ status: 'ASSIGNED', permissions: { reply: true, cancel: true, edit: true, assign: false } });
    expect(Object.keys(nodeOf(cached, id)!.permissions).filter((key) => key !== '__typename')).toHaveLength(9);
  });

  it('Apollo Client without the permissions merge policy: the list query reads back as missing after an event', async () => {
    const id = await newTicket('apollo, no policy');
    const socket = apollo.createSocket(endpoints());
    const client = new ApolloClient({ link: apollo.createLink({ ...endpoints(), socket }), cache: new InMemoryCache() });
    disposers.push(
      () => client.stop(),
      () => socket.dispose(),
    );
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    disposers.push(
      () => warn.mockRestore(),
      () => error.mockRestore(),
    );

    await client.query<ListData>({ query: apollo.TICKETS });
    expect(nodeOf(client.readQuery<ListData>({ query: apollo.TICKETS }), id)?.status).toBe('NEW');
    let events = 0;
    const subscription = client.subscribe({ query: apollo.TICKET_EVENTS }).subscribe({ next: () => void events++ });
    disposers.push(() => subscription.unsubscribe());
    await subscribers(server, 1);
    await assign(id);
    await until('the event', () => events >= 1);

    // The subscription's `permissions { reply cancel }` replaced the object that held nine flags:
    // the list is no longer complete in the cache, so it reads back as nothing.
    expect(client.readQuery<ListData>({ query: apollo.TICKETS })).toBeNull();
  });

  it('urql: the document cache re-runs the watched list when an event names Ticket, and after a mutation', async () => {
    const id = await newTicket('urql');
    const socket = urql.createSocket(endpoints());
    const client = urql.createUrqlClient({ ...endpoints(), socket });
    disposers.push(() => socket.dispose());
    const results: Array<ListData | undefined> = [];
    const watched = client.query<ListData>(urql.TICKETS, {}).subscribe((result) => {
      if (result.error) throw result.error;
      results.push(result.data);
    });
    disposers.push(() => watched.unsubscribe());
    await until('the list', () => results.length >= 1);
    expect(nodeOf(results[0], id)).toMatchObject({ status: 'NEW', permissions: { edit: true } });

    const kinds: string[] = [];
    disposers.push(urql.followTicketEvents(client, (event) => kinds.push(event.kind)));
    await subscribers(server, 1);
    const edited = await client.mutation(urql.EDIT_TICKET, { id, content: 'urql, edited' }).toPromise();
    expect(edited.error).toBeUndefined();
    expect(edited.data).toMatchObject({ editTicket: { id, content: 'urql, edited' } });
    await assign(id);
    // Both events, and the list re-run with the new status: a re-run that EDITED caused can already
    // read the assignment (it runs after it committed) before STATUS_CHANGED has arrived.
    await until(
      'both events and the list re-run with the new status',
      () => kinds.length >= 2 && nodeOf(results[results.length - 1], id)?.status === 'ASSIGNED',
    );
    expect(kinds).toEqual(['EDITED', 'STATUS_CHANGED']);
    expect(nodeOf(results[results.length - 1], id)?.permissions).toMatchObject({ edit: false, cancel: true });
  });

  it("graphql-ws: query and mutation over the socket, ticketEvents keeping the application's own map current", async () => {
    const id = await newTicket('graphql-ws');
    const client = ws.createTicketSocket(endpoints());
    disposers.push(() => client.dispose());
    const list = await ws.request<ListData>(client, '{ tickets(first: 20) { edges { node { id status permissions { reply edit cancel } } } } }');
    const tickets = new Map<string, ws.TicketView>(list.tickets.edges.map(({ node }) => [node.id, node as ws.TicketView]));
    expect(tickets.get(id)?.status).toBe('NEW');

    disposers.push(ws.followTickets(client, tickets));
    await subscribers(server, 1);
    const edited = await ws.request<{ editTicket: { content: string } }>(
      client,
      'mutation($id: ID!) { editTicket(id: $id, input: { content: "ws, edited" }) { content } }',
      { id },
    );
    expect(edited.editTicket.content).toBe('ws, edited');
    await assign(id);
    await until('the assignment', () => tickets.get(id)?.status === 'ASSIGNED');
    expect(tickets.get(id)?.permissions).toEqual({ reply: true, edit: false, cancel: true });
  });

  it('graphql-sse: queries and mutations over HTTP, ticketEvents over SSE keeping the map current; a refused token stops at once', async () => {
    const id = await newTicket('graphql-sse');
    const httpUrl = `${server.url}/graphql`;
    const client = sse.createTicketStream({ streamUrl: `${server.url}/graphql/stream`, token });
    disposers.push(() => client.dispose());
    const list = await sse.request<ListData>(httpUrl, token, '{ tickets(first: 20) { edges { node { id status permissions { reply edit cancel } } } } }');
    const tickets = new Map<string, sse.TicketView>(list.tickets.edges.map(({ node }) => [node.id, node as sse.TicketView]));
    expect(tickets.get(id)?.status).toBe('NEW');

    disposers.push(sse.followTickets(client, tickets));
    await subscribers(server, 1);
    const edited = await sse.request<{ editTicket: { content: string } }>(
      httpUrl,
      token,
      'mutation($id: ID!) { editTicket(id: $id, input: { content: "sse, edited" }) { content } }',
      { id },
    );
    expect(edited.editTicket.content).toBe('sse, edited');
    await assign(id);
    await until('the assignment', () => tickets.get(id)?.status === 'ASSIGNED');
    expect(tickets.get(id)?.permissions).toEqual({ reply: true, edit: false, cancel: true });

    const refused = sse.createTicketStream({ streamUrl: `${server.url}/graphql/stream`, token: 'x'.repeat(43) });
    disposers.push(() => refused.dispose());
    let failure: unknown;
    disposers.push(sse.followTickets(refused, new Map(), { error: (error) => (failure = error) }));
    await until('the refusal', () => failure !== undefined);
    expect(String(failure)).toMatch(/The sign-in token was refused/);
  });
});
