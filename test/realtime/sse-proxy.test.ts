import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from 'graphql-sse';
import { ReverseProxy } from '../../src/deploy/reverse-proxy';
import { gqlOk } from '../support/http';
import { startServer, type TestServer } from '../support/server';
import { settled, subscribers } from '../support/live-client';
import { sseClient, SseStream } from './sse-client';

/**
 * GraphQL over SSE behind the topology's reverse proxy (src/deploy/reverse-proxy.ts, what
 * `npm run topology` runs): events pass while the stream stays open (nothing buffered until the
 * end), and an API process that drops its connections mid-stream (killed) drops the client's
 * stream too, so graphql-sse's client reconnects and resumes instead of waiting on a silent one.
 * deploy/nginx.conf is checked for the same settings (no nginx on this machine to run).
 */
describe('GraphQL over SSE through the reverse proxy', () => {
  let server: TestServer;
  let proxy: ReverseProxy;
  let proxyUrl: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    server = await startServer('embedded');
    proxy = new ReverseProxy({ upstreams: [server.url], healthIntervalMs: 60_000 });
    proxyUrl = await proxy.listen(0);
  });
  afterAll(async () => {
    for (const client of clients) client.dispose();
    await proxy?.close();
    await server?.close();
  });

  it('passes each event while the stream stays open, marked unbuffered for nginx', async () => {
    const { customer, scheduler } = server.users;
    const client = sseClient({ url: proxyUrl }, scheduler);
    clients.push(client);
    const stream = new SseStream(client);
    await subscribers(server, 1);
    await gqlOk({ url: proxyUrl }, customer, 'mutation { createTicket(input: { content: "through the proxy" }) { id } }');
    await stream.count(1);
    expect(stream.completed).toBe(false);
    stream.stop();
    await subscribers(server, 0);

    const controller = new AbortController();
    const response = await fetch(`${proxyUrl}/graphql/stream`, {
      method: 'POST',
      signal: controller.signal,
      headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: `Credential ${scheduler.credential}` },
      body: JSON.stringify({ query: 'subscription { ticketEvents { cursor } }' }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    controller.abort();
    await subscribers(server, 0);
  });

  it("drops the client's stream when the API process drops its connections, and the client resumes from its cursor", async () => {
    const { customer, scheduler } = server.users;
    let openGate: () => void = () => undefined;
    let gate: Promise<void> = Promise.resolve();
    const client = sseClient({ url: proxyUrl }, scheduler, {
      retry: true,
      url: async () => {
        await gate;
        return `${proxyUrl}/graphql/stream`;
      },
    });
    clients.push(client);
    const stream = new SseStream(client);
    await subscribers(server, 1);
    const { createTicket } = await gqlOk(server, customer, 'mutation { createTicket(input: { content: "dropped" }) { id } }');
    await stream.count(1);

    gate = new Promise((resolve) => (openGate = resolve));
    // As if the process were killed: its sockets go without a proper end of the response.
    server.app.server.server.closeAllConnections();
    await subscribers(server, 0);
    await gqlOk(server, customer, 'mutation($id: ID!) { addReply(ticketId: $id, content: "while dropped") { id } }', { id: createTicket.id });
    openGate();
    await stream.count(2);
    await settled(server);
    expect(stream.kinds).toEqual(['CREATED', 'REPLY_ADDED']);
    expect(stream.events[1].reply?.content).toBe('while dropped');
    expect(stream.connects).toBe(2);
    stream.stop();
  });

  it('deploy/nginx.conf streams /graphql/stream unbuffered and uncompressed', () => {
    const conf = readFileSync(path.resolve(__dirname, '../../deploy/nginx.conf'), 'utf8');
    const block = /location = \/graphql\/stream \{([^}]*)\}/.exec(conf)?.[1] ?? '';
    expect(block).toMatch(/proxy_buffering off;/);
    expect(block).toMatch(/proxy_cache off;/);
    expect(block).toMatch(/gzip off;/);
    expect(block).toMatch(/proxy_http_version 1\.1;/);
    expect(block).toMatch(/proxy_read_timeout 1h;/);
  });
});
