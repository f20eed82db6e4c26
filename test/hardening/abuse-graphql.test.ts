import { getIntrospectionQuery } from 'graphql';
import { GRAPHQL_TRANSPORT_WS_PROTOCOL, MessageType } from 'graphql-ws';
import WebSocket from 'ws';
import { LIST_PAGE } from '../../bench/queries';
import { GRAPHQL_LIMITS } from '../../src/graphql/query-limits';
import { createTicketAs, errorCode, gql, gqlOk, TICKET_FIELDS, type GraphQLResponse } from '../support/http';
import { startServer, type TestServer, type TestUser } from '../support/server';
import { wsUrl } from '../support/live-client';

/**
 * GraphQL abuse limits (issue 6, "Abuse limits"): depth, aliases, directives, tokens and cost are
 * bounded the same way over HTTP and over graphql-ws, with errors that name the limit; a real
 * dashboard stays well inside them. Introspection, suggestions and the landing page follow the
 * configuration; Apollo's CSRF prevention stays on. The limits do not depend on the database:
 * the embedded one is enough.
 */

/** README's dashboard query, with the page size as a parameter. */
const dashboard = (first: number | string) => `query Dashboard($after: String) {
  tickets(first: ${first}, after: $after, filter: { status: [NEW, ASSIGNED, IN_PROCESSING] }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id status content images createdAt
        customer { id username } staff { id username }
        replies { id content author { username } createdAt }
        history { status actor { username } at }
        permissions { reply edit assign startProcessing requestInformation fix close reopen cancel }
      }
    }
  }
}`;

/** `pages` aliased full pages of `first` tickets each (`first` may be a variable name). */
const pages = (count: number, first: string): string => {
  const page = (i: number) => `p${i}: tickets(first: ${first}) { edges { cursor node { ${TICKET_FIELDS} } } }`;
  const variables = first.startsWith('$') ? `(${first}: Int)` : '';
  return `query Pages${variables} { ${Array.from({ length: count }, (_, i) => page(i)).join(' ')} }`;
};

/**
 * A `__type` query nested `depth` fields deep. The schema's own types nest 6 deep at most
 * (`tickets edges node replies author id`): only introspection's `ofType` chains go deeper.
 */
const nestedType = (depth: number): string => {
  let selection = 'name';
  for (let level = 4; level < depth; level++) selection = `ofType { ${selection} }`;
  return `{ __type(name: "Ticket") { fields { type { ${selection} } } } }`;
};

/** `count` fields each with one directive (a directive may not repeat on one field). */
const directives = (count: number): string => `{ me { ${'id @include(if: true) '.repeat(count)} } }`;

/** One operation over graphql-ws: the first `next` or `error` message for it. */
async function overWebSocket(server: TestServer, user: TestUser, query: string, variables?: Record<string, unknown>): Promise<{ type: string; payload: any }> {
  const socket = new WebSocket(wsUrl(server), GRAPHQL_TRANSPORT_WS_PROTOCOL);
  try {
    const messages: Array<{ type: string; id?: string; payload?: unknown }> = [];
    const waiters: Array<() => void> = [];
    socket.on('message', (data) => {
      messages.push(JSON.parse(String(data)));
      for (const wake of waiters.splice(0)) wake();
    });
    const next = async (accept: (message: { type: string; id?: string }) => boolean) => {
      for (;;) {
        const found = messages.find(accept);
        if (found) return found;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    };
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.send(JSON.stringify({ type: MessageType.ConnectionInit, payload: { credential: user.credential } }));
    await next((message) => message.type === MessageType.ConnectionAck);
    socket.send(JSON.stringify({ id: '1', type: MessageType.Subscribe, payload: { query, variables } }));
    const answer = await next((message) => message.id === '1' && (message.type === MessageType.Next || message.type === MessageType.Error));
    return answer as { type: string; payload: any };
  } finally {
    socket.close();
  }
}

/** The error codes and messages of a refusal over either transport. */
function refusalOf(answer: GraphQLResponse | { type: string; payload: any }): Array<{ code: unknown; message: string }> {
  const errors = 'type' in answer ? (answer.type === MessageType.Error ? answer.payload : answer.payload.errors) : answer.errors;
  return (errors ?? []).map((error: { message: string; extensions?: { code?: unknown } }) => ({ code: error.extensions?.code, message: error.message }));
}

describe('GraphQL limits, introspection on (the default)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer('embedded');
    const id = await createTicketAs(server, server.users.customer, 'A ticket with a reply');
    await gqlOk(server, server.users.customer, 'mutation($id: ID!) { addReply(ticketId: $id, content: "more") { id } }', { id });
  });
  afterAll(async () => server?.close());

  const scheduler = () => server.users.scheduler;

  it.each([
    ['the README dashboard with first: 100', dashboard(100)],
    ['the benchmark page with first: 100', LIST_PAGE.replace('first: 50', 'first: 100')],
    ['three full pages of 100 in one request', pages(3, '100')],
    [`${GRAPHQL_LIMITS.maxAliases} aliases`, `{ ${Array.from({ length: GRAPHQL_LIMITS.maxAliases }, (_, i) => `a${i}: me { id }`).join(' ')} }`],
    [`${GRAPHQL_LIMITS.maxDirectives} directives`, directives(GRAPHQL_LIMITS.maxDirectives)],
    [`depth ${GRAPHQL_LIMITS.maxDepth}`, nestedType(GRAPHQL_LIMITS.maxDepth)],
    ['the standard introspection query', getIntrospectionQuery()],
  ])('%s passes over HTTP and graphql-ws', async (_name, query) => {
    const http = await gql(server, scheduler(), query);
    expect(http.errors).toBeUndefined();
    expect(http.status).toBe(200);
    const ws = await overWebSocket(server, scheduler(), query);
    expect(ws.type).toBe(MessageType.Next);
    expect(ws.payload.errors).toBeUndefined();
    expect(ws.payload.data).toEqual(http.data);
  });

  it('the dashboard answers data: the limits cut nothing from a legitimate page', async () => {
    const data = await gqlOk(server, scheduler(), dashboard(100));
    expect(data.tickets.edges[0].node.replies).toHaveLength(1);
    expect(data.tickets.edges[0].node.history).toHaveLength(1);
  });

  it.each([
    [
      'depth',
      nestedType(GRAPHQL_LIMITS.maxDepth + 1),
      'GRAPHQL_VALIDATION_FAILED',
      `Query depth limit of ${GRAPHQL_LIMITS.maxDepth} exceeded, found ${GRAPHQL_LIMITS.maxDepth + 1}.`,
    ],
    [
      'aliases',
      `{ ${Array.from({ length: GRAPHQL_LIMITS.maxAliases + 1 }, (_, i) => `a${i}: me { id }`).join(' ')} }`,
      'GRAPHQL_VALIDATION_FAILED',
      `Aliases limit of ${GRAPHQL_LIMITS.maxAliases} exceeded, found ${GRAPHQL_LIMITS.maxAliases + 1}.`,
    ],
    [
      'directives',
      directives(GRAPHQL_LIMITS.maxDirectives + 1),
      'GRAPHQL_VALIDATION_FAILED',
      `Directives limit of ${GRAPHQL_LIMITS.maxDirectives} exceeded, found ${GRAPHQL_LIMITS.maxDirectives + 1}.`,
    ],
    [
      'tokens',
      `{ me { ${'id '.repeat(GRAPHQL_LIMITS.maxTokens)} } }`,
      'GRAPHQL_PARSE_FAILED',
      `Syntax Error: Token limit of ${GRAPHQL_LIMITS.maxTokens} exceeded: the document is too long.`,
    ],
    ['cost: four full pages of 100', pages(4, '100'), 'GRAPHQL_VALIDATION_FAILED', /^Query cost limit of 60000 exceeded: this operation costs \d+\./],
    [
      'cost: nested introspection',
      '{ __schema { types { fields { args { type { fields { args { name } } } } } } } }',
      'GRAPHQL_VALIDATION_FAILED',
      /^Query cost limit of 60000 exceeded/,
    ],
  ])('%s: refused over HTTP (400) and graphql-ws, naming the limit', async (_limit, query, code, message) => {
    const http = await gql(server, scheduler(), query);
    expect(http.status).toBe(400);
    expect(http.data).toBeUndefined();
    expect(refusalOf(http)).toEqual([{ code, message: expect.stringMatching(message) }]);
    const ws = await overWebSocket(server, scheduler(), query);
    expect(ws.type).toBe(MessageType.Error);
    expect(refusalOf(ws)).toEqual([{ code, message: expect.stringMatching(message) }]);
  });

  it('a connection is charged by its page size: first omitted (20), a literal, or a variable (charged 100)', async () => {
    // Four aliased pages: 4 × 20 tickets with everything is cheap, 4 × 100 is not.
    expect((await gql(server, scheduler(), pages(4, '20'))).errors).toBeUndefined();
    expect(errorCode(await gql(server, scheduler(), pages(4, '100')))).toBe('GRAPHQL_VALIDATION_FAILED');
    const omitted = pages(4, '20').replace(/\(first: 20\)/g, '');
    expect((await gql(server, scheduler(), omitted)).errors).toBeUndefined();
    // Validation runs once per document, before variables are known: a variable counts as 100.
    const variable = await gql(server, scheduler(), pages(4, '$n'), { n: 5 });
    expect(errorCode(variable)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect((await gql(server, scheduler(), pages(3, '$n'), { n: 5 })).errors).toBeUndefined();
  });

  it('fragments and inline fragments are charged where they are spread', async () => {
    const query = `query { ${[0, 1, 2, 3].map((i) => `p${i}: tickets(first: 100) { edges { node { ...Everything } } }`).join(' ')} }
      fragment Everything on Ticket { ... on Ticket { ${TICKET_FIELDS} } }`;
    const refused = await gql(server, scheduler(), query);
    expect(refusalOf(refused)).toEqual([{ code: 'GRAPHQL_VALIDATION_FAILED', message: expect.stringMatching(/^Query cost limit/) }]);
  });

  it('suggests field names while introspection is on', async () => {
    const result = await gql(server, scheduler(), '{ me { usernam } }');
    expect(result.errors?.[0].message).toMatch(/Did you mean "username"\?/);
  });

  it('keeps the landing page off by default: a browser GET gets no HTML', async () => {
    const response = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
    expect(response.status).toBe(400);
  });

  describe('CSRF prevention (Apollo) stays on', () => {
    const query = encodeURIComponent('{ __typename }');

    it('a GET query without a preflight header is refused; with one it runs', async () => {
      const plain = await fetch(`${server.url}/graphql?query=${query}`);
      expect(plain.status).toBe(400);
      expect(await plain.text()).toMatch(/Cross-Site Request Forgery/);
      const preflighted = await fetch(`${server.url}/graphql?query=${query}`, { headers: { 'apollo-require-preflight': 'true' } });
      expect(preflighted.status).toBe(200);
      expect(await preflighted.json()).toEqual({ data: { __typename: 'Query' } });
    });

    it.each([
      ['text/plain', '{"query":"{ __typename }"}'],
      ['application/x-www-form-urlencoded', 'query=%7B__typename%7D'],
      ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{ __typename }\r\n--x--\r\n'],
    ])('a simple %s POST, as an HTML form or a no-cors fetch sends it, is refused', async (contentType, body) => {
      const response = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': contentType }, body });
      expect(response.status).toBe(400);
      expect(await response.text()).not.toMatch(/"data"/);
    });
  });
});

describe('GraphQL with introspection off and the landing page on', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer('embedded', { config: { graphqlIntrospection: false, graphqlLandingPage: true } });
  });
  afterAll(async () => server?.close());

  it.each([
    ['__schema', '{ __schema { types { name } } }'],
    ['__type', '{ __type(name: "Ticket") { name } }'],
    ['the standard introspection query', getIntrospectionQuery()],
  ])('refuses %s over HTTP and graphql-ws', async (_name, query) => {
    const http = await gql(server, server.users.customer, query);
    expect(http.status).toBe(400);
    expect(refusalOf(http)[0]).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED', message: expect.stringMatching(/introspection/i) });
    const ws = await overWebSocket(server, server.users.customer, query);
    expect(ws.type).toBe(MessageType.Error);
    expect(refusalOf(ws)[0]).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED', message: expect.stringMatching(/introspection/i) });
  });

  it('still answers __typename and ordinary queries', async () => {
    expect(await gqlOk(server, server.users.customer, '{ __typename me { username } }')).toEqual({ __typename: 'Query', me: { username: 'customer' } });
  });

  it('gives no field suggestions (they would leak the schema) over HTTP or graphql-ws', async () => {
    const http = await gql(server, server.users.customer, '{ me { usernam } }');
    expect(http.errors?.[0].message).toBe('Cannot query field "usernam" on type "User".');
    const ws = await overWebSocket(server, server.users.customer, '{ me { usernam } }');
    expect(refusalOf(ws)).toEqual([{ code: 'GRAPHQL_VALIDATION_FAILED', message: 'Cannot query field "usernam" on type "User".' }]);
  });

  it('serves the landing page to a browser, without the API CSP that would block it', async () => {
    const response = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    expect(response.headers.get('content-security-policy')).toBeNull();
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
