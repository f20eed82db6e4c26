import type { LiveClient } from './live-client';
import { startServer, type DatabaseKind, type StartOptions, type TestServer } from './server';

/**
 * The lifecycle of a suite that talks to one server over HTTP and graphql-ws: the server starts
 * before the suite's tests (handed to `onStart`), and after them every client in the returned
 * list is disposed before the server closes. Push each client the suite opens into the list.
 */
export function serverWithClients(kind: DatabaseKind, options: StartOptions, onStart: (server: TestServer) => void): LiveClient[] {
  const clients: LiveClient[] = [];
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startServer(kind, options);
    onStart(server);
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await server?.close();
  });
  return clients;
}
