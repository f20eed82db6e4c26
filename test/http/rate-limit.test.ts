import { getIntrospectionQuery, parse, type OperationDefinitionNode } from 'graphql';
import { LIST_PAGE } from '../../bench/queries';
import { buildGraphQLSchema } from '../../src/graphql/schema';
import { operationPoints } from '../../src/graphql/rate-cost';
import { LEGACY_REQUEST_POINTS } from '../../src/legacy/legacy.routes';
import { DEFAULT_RATE_LIMIT, loadConfig } from '../../src/config';
import { authorizationOf, type Signer } from '../support/http';
import { serversWithClients } from '../support/live-suite';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { connect, EventStream, subscribers, TICKET_EVENTS } from '../support/live-client';
import { sseClient, SseStream } from '../realtime/sse-client';

/**
 * Request budgets (issue 14, "Rate-limit and cost headers"; docs/hardening.md, "Request
 * budgets"): every GraphQL answer says what the operation cost and what is left, in
 * `extensions.rateLimit` and the `RateLimit-*` headers; a spent budget answers 429 with
 * `Retry-After` and the operation does not run; legacy requests and subscription starts draw
 * from the same budget; the budget is one for every process on a PostgreSQL database. Over real
 * HTTP and graphql-ws.
 */

const TYPENAME = '{ __typename }';
const CREATE = 'mutation($input: CreateTicketInput!) { createTicket(input: $input) { id } }';
const METRICS_TOKEN = 'rate-limit-metrics-token-0123456789';

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function post(
  server: Pick<TestServer, 'url'>,
  user: Signer,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authorizationOf(user), ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

const create = (server: Pick<TestServer, 'url'>, user: Signer, content: string) => post(server, user, CREATE, { input: { content } });

async function legacy(server: Pick<TestServer, 'url'>, user: { credential: string }, action: string): Promise<Answer> {
  const response = await fetch(`${server.url}/api/ticket`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ action, credential: user.credential }),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

/** The budget an answer reports, from its headers. */
const budgetOf = (answer: Answer) => ({
  limit: answer.headers.get('ratelimit-limit'),
  remaining: answer.headers.get('ratelimit-remaining'),
  policy: answer.headers.get('ratelimit-policy'),
});

describe('operation points (the documented formula)', () => {
  it('a read costs 1 + ⌊static cost / 100⌋, a mutation 10 + ⌊static cost / 100⌋', async () => {
    const schema = await buildGraphQLSchema();
    const points = (query: string) => {
      const document = parse(query);
      return operationPoints(schema, document, document.definitions[0] as OperationDefinitionNode);
    };
    expect(points(TYPENAME)).toBe(1);
    expect(points(CREATE)).toBe(10);
    // 100 tickets × (node + id + content, and the edge) = 400 values, plus `tickets` and `edges`' parents.
    expect(points('{ tickets(first: 100) { edges { node { id content } } } }')).toBe(5);
    expect(points('mutation { closeTicket(id: "x") { id replies { id content } } }')).toBe(10);
    // The figures docs/hardening.md names (static costs from src/graphql/cost-limit.test.ts).
    expect(points(LIST_PAGE)).toBe(96);
    expect(points(LIST_PAGE.replace('first: 50', 'first: 100'))).toBe(192);
    expect(points(getIntrospectionQuery())).toBe(509);
  });
});

describe('settings', () => {
  const load = (env: Record<string, string>) => loadConfig({ CREDENTIAL_KEY: 'ab'.repeat(32), DATA_DIR: '/nonexistent', ...env });

  it('default to 10,000 points a minute; RATE_LIMIT_POINTS=0 turns budgets off', () => {
    expect(DEFAULT_RATE_LIMIT).toEqual({ rateLimitPoints: 10_000, rateLimitWindowMs: 60_000 });
    expect(load({})).toMatchObject({ rateLimitPoints: 10_000, rateLimitWindowMs: 60_000 });
    expect(load({ RATE_LIMIT_POINTS: '500', RATE_LIMIT_WINDOW_SECONDS: '3600' })).toMatchObject({ rateLimitPoints: 500, rateLimitWindowMs: 3_600_000 });
    expect(load({ RATE_LIMIT_POINTS: '0' }).rateLimitPoints).toBe(0);
  });

  it.each([
    ['RATE_LIMIT_POINTS', 'lots', /RATE_LIMIT_POINTS must be a whole number from 0 to 1000000000, got "lots"/],
    ['RATE_LIMIT_POINTS', '-1', /RATE_LIMIT_POINTS must be a whole number/],
    ['RATE_LIMIT_WINDOW_SECONDS', '0', /RATE_LIMIT_WINDOW_SECONDS must be a whole number from 1 to 86400, got "0"/],
    ['RATE_LIMIT_WINDOW_SECONDS', '1.5', /RATE_LIMIT_WINDOW_SECONDS must be a whole number/],
  ])('refuses %s=%s, naming the setting', (name, value, message) => {
    expect(() => load({ [name]: value })).toThrow(message);
  });

  it('with budgets off (what testConfig leaves) answers carry no budget', async () => {
    const server = await startServer('embedded', { bare: true, config: { rateLimitPoints: 0 } });
    try {
      const answer = await post(server, null, TYPENAME);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('ratelimit-limit')).toBeNull();
      expect(answer.body.extensions).toBeUndefined();
    } finally {
      await server.close();
    }
  });
});

describe.each(DATABASES)('request budgets (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind, { config: { rateLimitPoints: 25, rateLimitWindowMs: 600_000, trustProxy: true, metricsToken: METRICS_TOKEN } });
  });
  afterAll(async () => server?.close());

  it('every answer says what it cost and what is left: RateLimit-* headers and extensions.rateLimit', async () => {
    const before = Date.now();
    const first = await post(server, server.users.customer, TYPENAME);
    expect(first.status).toBe(200);
    expect(budgetOf(first)).toEqual({ limit: '25', remaining: '24', policy: '25;w=600' });
    const reset = Number(first.headers.get('ratelimit-reset'));
    expect(reset).toBeGreaterThanOrEqual(1);
    expect(reset).toBeLessThanOrEqual(600);
    expect(first.body.extensions.rateLimit).toEqual({ cost: 1, limit: 25, remaining: 24, resetAt: expect.any(String) });
    const resetAt = Date.parse(first.body.extensions.rateLimit.resetAt);
    expect(resetAt).toBeGreaterThan(before);
    expect(resetAt).toBeLessThanOrEqual(Date.now() + 600_000);

    // GET /graphql is charged the same way.
    const get = await fetch(`${server.url}/graphql?query=${encodeURIComponent(TYPENAME)}`, {
      headers: { ...authorizationOf(server.users.customer), 'apollo-require-preflight': 'true' },
    });
    expect(get.status).toBe(200);
    expect(get.headers.get('ratelimit-remaining')).toBe('23');
    expect(((await get.json()) as any).extensions.rateLimit).toMatchObject({ cost: 1, remaining: 23 });

    const mutation = await create(server, server.users.customer, 'charged ten points');
    expect(mutation.status).toBe(200);
    expect(mutation.body.data.createTicket.id).toEqual(expect.any(String));
    expect(mutation.body.extensions.rateLimit).toMatchObject({ cost: 10, limit: 25, remaining: 13 });
    // The window is the one the first request opened.
    expect(mutation.body.extensions.rateLimit.resetAt).toBe(first.body.extensions.rateLimit.resetAt);
  });

  it('a spent budget answers 429 with Retry-After and TOO_MANY_REQUESTS; the refused mutation does not run and takes nothing', async () => {
    const user = server.users.otherCustomer;
    expect((await create(server, user, 'budget one')).body.extensions.rateLimit.remaining).toBe(15);
    expect((await create(server, user, 'budget two')).body.extensions.rateLimit.remaining).toBe(5);
    const refused = await create(server, user, 'budget three');
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(600);
    expect(refused.headers.get('ratelimit-remaining')).toBe('5');
    expect(refused.body.data).toBeUndefined();
    expect(refused.body.errors).toEqual([
      {
        message: expect.stringMatching(/^Rate limit exceeded: this request costs 10 points and 5 of 25 are left in this window; retry in \d+ s$/),
        extensions: { code: 'TOO_MANY_REQUESTS', retryAfterSeconds: retryAfter },
      },
    ]);
    expect(refused.body.extensions.rateLimit).toMatchObject({ cost: 10, limit: 25, remaining: 5 });

    // Not run: the admin (a budget of its own) sees two of the three tickets.
    const seen = await post(server, server.users.admin, '{ tickets(first: 100) { edges { node { content } } } }');
    const contents = seen.body.data.tickets.edges.map((edge: { node: { content: string } }) => edge.node.content);
    expect(contents.filter((content: string) => content.startsWith('budget ')).sort()).toEqual(['budget one', 'budget two']);
    // The refusal took nothing: a 1-point read still fits.
    expect((await post(server, user, TYPENAME)).body.extensions.rateLimit).toMatchObject({ cost: 1, remaining: 4 });
  });

  it('each user has a budget of its own; requests without a credential pay per client address (TRUST_PROXY here)', async () => {
    const from = (address: string) => ({ 'x-forwarded-for': address });
    expect(budgetOf(await post(server, null, TYPENAME, undefined, from('203.0.113.1'))).remaining).toBe('24');
    expect(budgetOf(await post(server, null, TYPENAME, undefined, from('203.0.113.1'))).remaining).toBe('23');
    expect(budgetOf(await post(server, null, TYPENAME, undefined, from('203.0.113.2'))).remaining).toBe('24');
    // A user sending from a spent address is not charged to it.
    expect(budgetOf(await post(server, server.users.staff, TYPENAME, undefined, from('203.0.113.1'))).remaining).toBe('24');
    // A credential that does not verify pays as its address, and the operation fails as before.
    // (GET: a POST with a wrong credential is refused with 401 before its body is read.)
    const wrong = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ me { id } }')}`, {
      headers: { authorization: 'Credential not-a-credential', 'apollo-require-preflight': 'true', ...from('203.0.113.2') },
    });
    expect(wrong.headers.get('ratelimit-remaining')).toBe('23');
    expect(((await wrong.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it(`legacy requests draw ${LEGACY_REQUEST_POINTS} points from the same budget, with the same headers and 429`, async () => {
    const user = server.users.scheduler;
    expect(budgetOf(await post(server, user, TYPENAME)).remaining).toBe('24');
    const first = await legacy(server, user, 'permission-check');
    expect(first.status).toBe(200);
    expect(budgetOf(first)).toEqual({ limit: '25', remaining: '14', policy: '25;w=600' });
    expect(budgetOf(await post(server, user, TYPENAME)).remaining).toBe('13');
    expect(budgetOf(await legacy(server, user, 'permission-check')).remaining).toBe('3');
    const refused = await legacy(server, user, 'permission-check');
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ code: 429, message: expect.stringMatching(/^Rate limit exceeded: this request costs 10 points and 3 of 25 are left/) });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('ratelimit-remaining')).toBe('3');
  });

  it('a subscription start is charged once (its events are free); with the budget spent it is refused', async () => {
    const user = server.users.multi;
    // Points of the ticketEvents subscription (its static cost is small: 1 point).
    const document = parse(TICKET_EVENTS);
    const subscriptionPoints = operationPoints(await buildGraphQLSchema(), document, document.definitions[0] as OperationDefinitionNode);
    const live = connect(server, user);
    try {
      const stream = new EventStream(live.client);
      // The start is charged before the stream is registered; a read after it sees the charge.
      await subscribers(server, 1);
      const created = await create(server, user, 'an event for the subscriber');
      await stream.count(1);
      const after = await post(server, user, TYPENAME);
      expect(after.body.extensions.rateLimit.remaining).toBe(25 - subscriptionPoints - 10 - 1);
      expect(created.status).toBe(200);
      // Spend the rest with 1-point reads, then start another subscription.
      for (let left = after.body.extensions.rateLimit.remaining; left > 0; left--) expect((await post(server, user, TYPENAME)).status).toBe(200);
      const refused = new EventStream(live.client);
      await refused.ended();
      expect(refused.errors).toEqual([
        {
          message: expect.stringMatching(/^Rate limit exceeded: this request costs 1 point and 0 of 25 are left/),
          extensions: { code: 'TOO_MANY_REQUESTS', retryAfterSeconds: expect.any(Number) },
        },
      ]);
      stream.stop();
      // The same subscription over SSE draws from the same spent budget: refused before it runs.
      const client = sseClient(server, user);
      try {
        const overSse = new SseStream(client);
        await overSse.ended();
        expect(overSse.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'TOO_MANY_REQUESTS' }) })]);
      } finally {
        client.dispose();
      }
    } finally {
      await live.dispose();
    }
  });

  it('counts refusals in helpdesk_rate_limited_total by transport', async () => {
    const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    const text = await response.text();
    expect(text).toContain('helpdesk_rate_limited_total{transport="graphql"} 1');
    expect(text).toContain('helpdesk_rate_limited_total{transport="legacy"} 1');
    expect(text).toContain('helpdesk_rate_limited_total{transport="websocket"} 1');
    expect(text).toContain('helpdesk_rate_limited_total{transport="stream"} 1');
  });
});

describe.each(DATABASES)('the window (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind, { config: { rateLimitPoints: 2, rateLimitWindowMs: 5_000 } });
  });
  afterAll(async () => server?.close());

  it('once the window ends the whole budget is back', async () => {
    const user = server.users.customer;
    expect((await post(server, user, TYPENAME)).status).toBe(200);
    expect((await post(server, user, TYPENAME)).status).toBe(200);
    const refused = await post(server, user, TYPENAME);
    expect(refused.status).toBe(429);
    const resetAt = Date.parse(refused.body.extensions.rateLimit.resetAt);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, resetAt - Date.now()) + 100));
    const fresh = await post(server, user, TYPENAME);
    expect(fresh.status).toBe(200);
    expect(fresh.body.extensions.rateLimit).toMatchObject({ cost: 1, limit: 2, remaining: 1 });
    expect(Date.parse(fresh.body.extensions.rateLimit.resetAt)).toBeGreaterThan(resetAt);
  });
});

(process.env.TEST_DATABASE_URL ? describe : describe.skip)('two server processes on one PostgreSQL database', () => {
  let a: TestServer;
  let b: TestServer;
  serversWithClients('postgres', 2, { config: { rateLimitPoints: 20, rateLimitWindowMs: 600_000 } }, ([first, second]) => ([a, b] = [first, second]));

  it('spend on one process counts on the other', async () => {
    const user = a.users.customer;
    expect((await post(a, user, TYPENAME)).body.extensions.rateLimit.remaining).toBe(19);
    expect((await create(b, user, 'on b')).body.extensions.rateLimit.remaining).toBe(9);
    expect((await post(a, user, TYPENAME)).body.extensions.rateLimit.remaining).toBe(8);
    const refused = await create(b, user, 'refused on b');
    expect(refused.status).toBe(429);
    expect(refused.body.extensions.rateLimit.remaining).toBe(8);
    expect((await legacy(a, user, 'permission-check')).status).toBe(429);
  });

  it('40 parallel 1-point reads split over both processes: exactly the 20 points are admitted', async () => {
    const user = a.users.staff;
    const answers = await Promise.all(Array.from({ length: 40 }, (_, index) => post(index % 2 ? b : a, user, TYPENAME)));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(20);
    expect(statuses.filter((status) => status === 429)).toHaveLength(20);
    const remaining = answers.filter((answer) => answer.status === 200).map((answer) => answer.body.extensions.rateLimit.remaining);
    expect(remaining.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, index) => index));
  });
});
