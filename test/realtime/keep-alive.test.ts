import { GRAPHQL_TRANSPORT_WS_PROTOCOL, MessageType } from 'graphql-ws';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { DocumentCache } from '../../src/graphql/document-cache';
import { graphQLValidation } from '../../src/graphql/query-limits';
import { buildGraphQLSchema } from '../../src/graphql/schema';
import { GraphQLWebSocketServer } from '../../src/realtime/graphql-ws.server';
import { LiveSignIns } from '../../src/realtime/live-sign-ins';
import { startServer, type TestServer } from '../support/server';

/**
 * Keep-alive, on a socket server of its own with a short interval (the app's is 12 s): the server
 * pings, and drops a client that stops answering. The interval is short, but not so short that a
 * loaded machine (this process not running for a tenth of a second, the client's pong read only
 * after the next tick) drops a client that does answer.
 */
const KEEP_ALIVE_MS = 300;
describe('graphql-ws keep-alive', () => {
  let server: TestServer;
  let http: Server;
  let sockets: GraphQLWebSocketServer;
  let url: string;
  beforeAll(async () => {
    server = await startServer('embedded');
    http = createServer((_request, response) => response.writeHead(404).end());
    sockets = new GraphQLWebSocketServer(http, {
      schema: await buildGraphQLSchema(),
      services: server.app.services,
      feed: server.app.live.hub!,
      fork: () => server.app.database.orm.em.fork(),
      publicUrl: () => server.url,
      logger: { error: () => undefined },
      documents: new DocumentCache(graphQLValidation({ introspection: true })),
      signIns: new LiveSignIns(),
      keepAliveMs: KEEP_ALIVE_MS,
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`;
  });
  afterAll(async () => {
    await sockets?.close();
    await new Promise((resolve) => http?.close(resolve));
    await server?.close();
  });

  async function acknowledged(options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
    const socket = new WebSocket(url, GRAPHQL_TRANSPORT_WS_PROTOCOL, options);
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: MessageType.ConnectionInit, payload: { credential: server.users.customer.credential } }));
    await new Promise<void>((resolve) =>
      socket.once('message', (data) => {
        expect(JSON.parse(String(data))).toEqual({ type: MessageType.ConnectionAck });
        resolve();
      }),
    );
    return socket;
  }

  it('pings an open connection and keeps it while it answers', async () => {
    const socket = await acknowledged();
    let pings = 0;
    socket.on('ping', () => pings++);
    // Three pings, however late a loaded machine runs the timers: kept open through all of them.
    const deadline = Date.now() + 20 * KEEP_ALIVE_MS;
    while (pings < 3 && socket.readyState === WebSocket.OPEN && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });

  it('drops a connection that stops answering pings', async () => {
    const socket = await acknowledged({ autoPong: false });
    const started = Date.now();
    await new Promise((resolve) => socket.once('close', resolve));
    // Dropped after about two intervals; the bound leaves room for a loaded machine (without the
    // keep-alive it would never close).
    expect(Date.now() - started).toBeLessThan(10 * KEEP_ALIVE_MS);
    for (let wait = 0; sockets.connections > 0 && wait < 50; wait++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sockets.connections).toBe(0);
  });
});
