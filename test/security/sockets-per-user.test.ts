import { DEFAULT_LIMITS, loadConfig } from '../../src/config';
import { CLOSE_TOO_MANY_SOCKETS } from '../../src/realtime/graphql-ws.server';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { rawSockets } from '../support/raw-socket';

/**
 * Issue 9, "Buffers that grow with someone else's traffic": every open socket costs the server
 * memory and a share of every event's fan-out, so one user may hold at most
 * WS_MAX_SOCKETS_PER_USER acknowledged sockets per process; the next is closed with 4429 and a
 * reason naming the limit. Other users are unaffected, and a closed socket frees its place.
 */
describe.each(DATABASES)('sockets per user (%s)', (kind) => {
  let server: TestServer;
  const { open, closeAll } = rawSockets(() => server);

  beforeAll(async () => {
    server = await startServer(kind, { config: { maxSocketsPerUser: 3 } });
  });
  afterEach(closeAll);
  afterAll(async () => {
    await server?.close();
  });

  it('acknowledges up to the limit and closes the next socket of that user with 4429 and a reason', async () => {
    const { customer, otherCustomer } = server.users;
    const first = [open(customer.credential), open(customer.credential), open(customer.credential)];
    expect(await Promise.all(first.map((socket) => socket.acked))).toEqual([true, true, true]);
    const refused = open(customer.credential);
    expect(await refused.acked).toBe(false);
    expect(await refused.closed).toEqual({
      code: CLOSE_TOO_MANY_SOCKETS,
      reason: expect.stringMatching(/Too many open connections for this user \(at most 3\)/),
    });
    // Another user is not affected.
    expect(await open(otherCustomer.credential).acked).toBe(true);
    // A socket that goes frees its place.
    first[0].close();
    await first[0].closed;
    // The server lets go of it when it sees the close, which a loaded machine may run late.
    for (let wait = 0; server.app.live.sockets?.socketsOf(customer.id) !== 2 && wait < 500; wait++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await open(customer.credential).acked).toBe(true);
    expect(server.app.live.sockets?.socketsOf(customer.id)).toBe(3);
  });

  it('holds when many sockets of one user connect at once', async () => {
    const { staff } = server.users;
    const racing = Array.from({ length: 12 }, () => open(staff.credential));
    const outcomes = await Promise.all(racing.map((socket) => socket.acked));
    expect(outcomes.filter(Boolean)).toHaveLength(3);
    const closes = await Promise.all(racing.filter((_, index) => !outcomes[index]).map((socket) => socket.closed));
    expect(new Set(closes.map((close) => close.code))).toEqual(new Set([CLOSE_TOO_MANY_SOCKETS]));
  });
});

describe('WS_MAX_SOCKETS_PER_USER', () => {
  it('defaults to 32 and refuses what is not a positive whole number', () => {
    expect(loadConfig({ DATA_DIR: '.test-tmp/config', CREDENTIAL_KEY: 'a'.repeat(64) }).maxSocketsPerUser).toBe(DEFAULT_LIMITS.maxSocketsPerUser);
    expect(DEFAULT_LIMITS.maxSocketsPerUser).toBe(32);
    expect(loadConfig({ CREDENTIAL_KEY: 'a'.repeat(64), WS_MAX_SOCKETS_PER_USER: '5' }).maxSocketsPerUser).toBe(5);
    for (const bad of ['0', '-1', 'many', '1.5']) {
      expect(() => loadConfig({ CREDENTIAL_KEY: 'a'.repeat(64), WS_MAX_SOCKETS_PER_USER: bad })).toThrow(/WS_MAX_SOCKETS_PER_USER must be a whole number/);
    }
  });
});
