import { randomUUID } from 'node:crypto';
import { connect, EventStream, settled, subscribers, type LiveClient } from '../support/live-client';
import { errorCode, gql } from '../support/http';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { parseMetrics, scrape, total, type Sample } from '../support/scrape';

/**
 * GET /metrics after a scripted workload over real HTTP and graphql-ws: every count an operator
 * alerts on moves by what the workload did, and no id or username becomes a label.
 */
const TOKEN = 'test-metrics-token-3f9a1c2b7d';
const FILE_TICKET = 'mutation FileTicket($input: CreateTicketInput!) { createTicket(input: $input) { id } }';

describe.each(DATABASES)('GET /metrics (%s)', (kind) => {
  let server: TestServer;
  const clients: LiveClient[] = [];

  beforeAll(async () => {
    server = await startServer(kind, {
      config: { metricsToken: TOKEN },
      // Two failures per username, then the throttle refuses: the workload reaches it quickly.
      loginThrottle: { perUsername: { maxFailures: 2, windowMs: 60_000, lockMs: 60_000 } },
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await server?.close();
  });

  it('answers 401 without the token or with a wrong one, in constant shape', async () => {
    for (const headers of [
      {} as Record<string, string>,
      { authorization: 'Bearer wrong-token-000000000000' },
      { authorization: `Basic ${TOKEN}` },
      { authorization: TOKEN },
    ]) {
      const response = await fetch(`${server.url}/metrics`, { headers });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(await response.json()).toEqual({ code: 'UNAUTHENTICATED', message: expect.stringContaining('Bearer') });
    }
    const ok = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('counts a scripted workload: HTTP routes, GraphQL operations, sockets, events, logins, pool', async () => {
    const before = await scrape(server.url, TOKEN);
    const delta = (after: Sample[], name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);

    // One subscriber who sees every ticket, over graphql-ws.
    const live = connect(server, server.users.scheduler);
    clients.push(live);
    const stream = new EventStream(live.client);
    await subscribers(server, 1);

    // Three tickets filed with a named mutation, one named query, one document that does not validate.
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const result = await gql(server, server.users.customer, FILE_TICKET, { input: { content: `metrics ${i}` } });
      expect(result.errors).toBeUndefined();
      ids.push(result.data!.createTicket.id);
    }
    expect((await gql(server, server.users.customer, 'query WhoAmI { me { id } }')).errors).toBeUndefined();
    expect(errorCode(await gql(server, server.users.customer, 'query Broken { noSuchField }'))).toBe('GRAPHQL_VALIDATION_FAILED');
    await stream.count(3);
    await settled(server);

    // Sign-in failures: two wrong passwords, then the throttle; one credential that does not decode.
    const wrong = { credential: server.credential('customer', 'not the password') };
    expect(errorCode(await gql(server, wrong, 'query WrongPassword { me { id } }'))).toBe('UNAUTHENTICATED');
    expect(errorCode(await gql(server, wrong, 'query WrongPassword { me { id } }'))).toBe('UNAUTHENTICATED');
    expect(errorCode(await gql(server, wrong, 'query WrongPassword { me { id } }'))).toBe('TOO_MANY_REQUESTS');
    expect(errorCode(await gql(server, { credential: 'deadbeef' }, 'query WrongPassword { me { id } }'))).toBe('UNAUTHENTICATED');

    // A route with an id in its URL, and a URL no route matches.
    const imageId = randomUUID();
    expect((await fetch(`${server.url}/images/${imageId}`)).status).toBe(404);
    expect((await fetch(`${server.url}/no/such/${imageId}`)).status).toBe(404);

    const after = await scrape(server.url, TOKEN);

    // HTTP by route pattern and status (this scrape is counted after it answers, the one before is in).
    expect(delta(after, 'helpdesk_http_requests_total', { method: 'POST', route: '/graphql', status: '200' })).toBe(4);
    expect(delta(after, 'helpdesk_http_requests_total', { method: 'POST', route: '/graphql', status: '400' })).toBe(1);
    // Wrong and undecodable credentials are refused before the body is read (auth-before-body.ts).
    expect(delta(after, 'helpdesk_http_requests_total', { method: 'POST', route: '/graphql', status: '401' })).toBe(3);
    expect(delta(after, 'helpdesk_http_requests_total', { method: 'POST', route: '/graphql', status: '429' })).toBe(1);
    expect(delta(after, 'helpdesk_http_requests_total', { method: 'GET', route: '/images/:id', status: '404' })).toBe(1);
    expect(delta(after, 'helpdesk_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(delta(after, 'helpdesk_http_requests_total', { method: 'GET', route: '/metrics', status: '200' })).toBe(1);
    expect(delta(after, 'helpdesk_http_request_duration_seconds_count', { method: 'POST', route: '/graphql' })).toBe(
      delta(after, 'helpdesk_http_requests_total', { method: 'POST', route: '/graphql' }),
    );

    // GraphQL by operation name, type and outcome.
    expect(delta(after, 'helpdesk_graphql_operations_total', { operation: 'FileTicket', type: 'mutation', outcome: 'ok' })).toBe(3);
    expect(delta(after, 'helpdesk_graphql_operations_total', { operation: 'WhoAmI', type: 'query', outcome: 'ok' })).toBe(1);
    // A document that does not validate earns its name no label.
    expect(delta(after, 'helpdesk_graphql_operations_total', { operation: 'unresolved', type: 'unknown', outcome: 'GRAPHQL_VALIDATION_FAILED' })).toBe(1);
    expect(delta(after, 'helpdesk_graphql_operations_total', { operation: 'Broken' })).toBe(0);
    // Refused before GraphQL read them: counted by HTTP status above and by the sign-in counters below.
    expect(delta(after, 'helpdesk_graphql_operations_total', { operation: 'WrongPassword' })).toBe(0);
    expect(delta(after, 'helpdesk_graphql_operation_duration_seconds_count', { operation: 'FileTicket' })).toBe(3);

    // Sockets, subscriptions, events.
    expect(total(after, 'helpdesk_websocket_connections')).toBe(1);
    expect(total(after, 'helpdesk_subscriptions_active')).toBe(1);
    expect(delta(after, 'helpdesk_events_written_total')).toBe(3);
    expect(delta(after, 'helpdesk_events_fanned_out_total')).toBe(3);
    expect(delta(after, 'helpdesk_events_delivered_total')).toBe(3);
    expect(delta(after, 'helpdesk_events_dropped_total')).toBe(0);
    expect(delta(after, 'helpdesk_event_delivery_delay_seconds_count')).toBe(3);
    expect(total(after, 'helpdesk_event_delivery_delay_seconds_bucket', { le: '+Inf' })).toBe(total(after, 'helpdesk_event_delivery_delay_seconds_count'));

    // Sign-ins.
    expect(delta(after, 'helpdesk_login_failures_total', { reason: 'password' })).toBe(2);
    expect(delta(after, 'helpdesk_login_failures_total', { reason: 'credential' })).toBe(1);
    expect(delta(after, 'helpdesk_login_throttled_total')).toBe(1);

    // Database and process.
    expect(total(after, 'helpdesk_database_up')).toBe(1);
    expect(total(after, 'helpdesk_database_outages_total')).toBe(0);
    expect(after.some((sample) => sample.name === 'helpdesk_db_pool_connections' && sample.labels.state === 'used')).toBe(true);
    expect(total(after, 'helpdesk_db_pool_waiting')).toBe(0);
    expect(total(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    // The subscriber leaves: the gauges follow.
    stream.stop();
    await live.dispose();
    await subscribers(server, 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const gone = await scrape(server.url, TOKEN);
    expect(total(gone, 'helpdesk_subscriptions_active')).toBe(0);
    expect(total(gone, 'helpdesk_websocket_connections')).toBe(0);
  });

  it('never labels with ids, usernames or raw URLs', async () => {
    const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const text = await response.text();
    const labelValues = parseMetrics(text).flatMap((sample) => Object.values(sample.labels));
    for (const value of labelValues) {
      expect(value).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
      expect(Object.keys(server.users)).not.toContain(value);
    }
    expect(text).not.toContain('/no/such/');
  });
});

describe('GET /metrics without METRICS_TOKEN', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer('embedded', { bare: true });
  });
  afterAll(() => server?.close());

  it('is not served: 404, with or without a token', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
  });
});
