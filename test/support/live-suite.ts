import type { LiveClient } from './live-client';
import { startServer, type DatabaseKind, type StartOptions, type TestServer } from './server';

/** Anything a suite opens against its servers and must let go of before they close. */
export interface Disposable {
  dispose(): void | Promise<void>;
}

/**
 * The lifecycle of a suite that talks to `count` server processes of one deployment over HTTP and
 * live transports: the servers start before the suite's tests (handed to `onStart`), and after
 * them every client in the returned list is disposed, then the servers close, the last started
 * first. Push each client the suite opens into the list.
 *
 * The first server starts with `options` (its own database, the fixture users unless `bare`);
 * each other one is a second `createApp` on the first one's PostgreSQL database and credential
 * key, started bare with the same options, and shares the first one's `users`. Several processes
 * need PostgreSQL: an embedded database belongs to one process.
 */
export function serversWithClients<C extends Disposable = LiveClient>(
  kind: DatabaseKind,
  count: number,
  options: StartOptions,
  onStart: (servers: TestServer[]) => void,
): C[] {
  const clients: C[] = [];
  const servers: TestServer[] = [];
  beforeAll(async () => {
    if (count > 1 && kind !== 'postgres') throw new Error(`${count} server processes need PostgreSQL; an embedded database belongs to one process`);
    const first = await startServer(kind, options);
    servers.push(first);
    while (servers.length < count) {
      const config = { ...options.config, databaseUrl: first.app.config.databaseUrl, credentialKey: first.key };
      servers.push({ ...(await startServer(kind, { ...options, bare: true, config })), users: first.users });
    }
    onStart([...servers]);
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((client) => client.dispose()));
    for (const server of servers.splice(0).reverse()) await server.close();
  });
  return clients;
}

/** {@link serversWithClients} with one server. */
export function serverWithClients(kind: DatabaseKind, options: StartOptions, onStart: (server: TestServer) => void): LiveClient[] {
  return serversWithClients(kind, 1, options, ([server]) => onStart(server));
}

/** A bus several processes share: LISTEN/NOTIFY on the database, or Redis. */
export type SharedBus = 'postgres' | 'redis';

/**
 * Declares a suite of several processes once per shared bus: PostgreSQL's LISTEN/NOTIFY when
 * TEST_DATABASE_URL is set, and Redis too when TEST_REDIS_URL is; skipped without a PostgreSQL.
 * `%s` in the title names the bus; the body gets the bus and the configuration that selects it.
 */
export function describeEachSharedBus(title: string, body: (bus: SharedBus, config: { redisUrl: string | undefined }) => void): void {
  const buses: SharedBus[] = process.env.TEST_DATABASE_URL ? ['postgres', ...(process.env.TEST_REDIS_URL ? (['redis'] as const) : [])] : [];
  const each = buses.length ? describe.each(buses) : describe.skip.each<SharedBus>(['postgres']);
  each(title, (bus) => body(bus, { redisUrl: bus === 'redis' ? process.env.TEST_REDIS_URL : undefined }));
}
