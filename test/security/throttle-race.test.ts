import { DEFAULT_USERNAME_LIMIT } from '../../src/modules/auth/login-throttle';
import { gqlOk } from '../support/http';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { hashesComputed, signIn, tally, TRANSPORTS, type Outcome } from '../support/sign-in';
import { rawConnect } from '../support/raw-socket';

/**
 * Check-then-act throttling (issue 9, "Credentials"): failures are counted when an attempt
 * starts, before the password hash, so concurrent wrong guesses cannot all be evaluated while
 * the first ones are still hashing. Before, 40 parallel guesses at one username were all
 * evaluated (40 × 401); the limit is 10.
 */

const PARALLEL = 40;
const CREATE_USER = 'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }';

describe.each(DATABASES)('parallel wrong guesses (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    // A looser address limit than the contract's for the per-username races, so only the username limit
    // is measured there; the per-address race below has its own server with a tight one.
    server = await startServer(kind, { bare: true, loginThrottle: { perAddress: { maxFailures: 1_000, windowMs: 600_000, lockMs: 60_000 } } });
  });
  afterAll(async () => server?.close());

  it.each(TRANSPORTS)(
    `%s: of ${PARALLEL} parallel guesses at one username, at most ${DEFAULT_USERNAME_LIMIT.maxFailures} are evaluated, the rest are 429`,
    async (transport) => {
      const username = `victim-${transport}`;
      await gqlOk(server, server.users.admin, CREATE_USER, { input: { username, password: 'the real passphrase', roles: ['CUSTOMER'] } });
      const hashesBefore = hashesComputed(server);
      const outcomes = await Promise.all(
        Array.from({ length: PARALLEL }, (_, guess) => signIn(server, transport, server.credential(username, `guess number ${guess}`))),
      );
      const counts = tally(outcomes);
      // Exactly the limit: each attempt is counted atomically before it is evaluated (before: 40).
      expect(counts).toEqual({ 401: DEFAULT_USERNAME_LIMIT.maxFailures, 429: PARALLEL - DEFAULT_USERNAME_LIMIT.maxFailures });
      // Evaluated means hashed: the refused ones never reached scrypt.
      const hashesAfter = hashesComputed(server);
      expect(hashesBefore === undefined || hashesAfter === undefined ? 'no hasher' : hashesAfter - hashesBefore).toBe(counts['401']);
      // Still locked afterwards, even with the right password.
      expect(await signIn(server, transport, server.credential(username, 'the real passphrase'))).toBe(429);
    },
  );

  /**
   * The other ways of signing in meet the same admission: the `login` mutation (a password for a
   * token), graphql-ws's connection_init and a Server-Sent Events stream (the credential in its
   * header). graphql-ws refuses every failed sign-in with 4403, throttled or not, so there the
   * count of evaluated guesses is the hasher's.
   */
  const OTHER_SURFACES: Array<[string, (server: TestServer, username: string, password: string) => Promise<Outcome>]> = [
    [
      'the login mutation',
      async (server, username, password) => {
        const response = await fetch(`${server.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            query: 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }',
            variables: { u: username, p: password },
          }),
        });
        const body = (await response.json()) as { data?: { login?: { token: string } } | null; errors?: Array<{ extensions?: { code?: string } }> };
        if (body.data?.login?.token) return 'ok';
        const code = body.errors?.[0]?.extensions?.code;
        return code === 'UNAUTHENTICATED' ? 401 : code === 'TOO_MANY_REQUESTS' ? 429 : `${response.status} ${code}`;
      },
    ],
    [
      'graphql-ws connection_init',
      async (server, username, password) => {
        const socket = rawConnect(server, server.credential(username, password));
        if (await socket.acked) {
          socket.close();
          return 'ok';
        }
        const { code } = await socket.closed;
        return code === 4403 ? 'closed 4403' : `closed ${code}`;
      },
    ],
    [
      'a Server-Sent Events stream',
      async (server, username, password) => {
        const response = await fetch(`${server.url}/graphql/stream`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Credential ${server.credential(username, password)}` },
          body: JSON.stringify({ query: 'subscription { ticketEvents { kind } }' }),
        });
        await response.body?.cancel();
        return response.status === 200 ? 'ok' : response.status;
      },
    ],
  ];

  it.each(OTHER_SURFACES)(
    `%s: of ${PARALLEL} parallel guesses at one username, at most ${DEFAULT_USERNAME_LIMIT.maxFailures} are evaluated`,
    async (surface, attempt) => {
      const username = `victim-${surface.replace(/\W+/g, '-')}`;
      await gqlOk(server, server.users.admin, CREATE_USER, { input: { username, password: 'the real passphrase', roles: ['CUSTOMER'] } });
      const hashesBefore = hashesComputed(server);
      const outcomes = await Promise.all(Array.from({ length: PARALLEL }, (_, guess) => attempt(server, username, `guess number ${guess}`)));
      const evaluated = (hashesComputed(server) ?? NaN) - (hashesBefore ?? NaN);
      expect(evaluated).toBe(DEFAULT_USERNAME_LIMIT.maxFailures);
      const counts = tally(outcomes);
      if (surface.startsWith('graphql-ws')) expect(counts).toEqual({ 'closed 4403': PARALLEL });
      else expect(counts).toEqual({ 401: DEFAULT_USERNAME_LIMIT.maxFailures, 429: PARALLEL - DEFAULT_USERNAME_LIMIT.maxFailures });
      // The lock is the username's on every surface: the right password over GraphQL is refused too.
      expect(await signIn(server, 'graphql', server.credential(username, 'the real passphrase'))).toBe(429);
    },
  );

  it('unknown usernames are raced the same way (no enumeration through the count)', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: PARALLEL }, (_, guess) => signIn(server, TRANSPORTS[guess % 2], server.credential('nobody-here', `guess ${guess}`))),
    );
    const counts = tally(outcomes);
    expect(counts).toEqual({ 401: DEFAULT_USERNAME_LIMIT.maxFailures, 429: PARALLEL - DEFAULT_USERNAME_LIMIT.maxFailures });
  });
});

describe.each(DATABASES)('parallel wrong guesses from one address at many usernames (%s)', (kind) => {
  const ADDRESS_LIMIT = 12;
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind, { bare: true, loginThrottle: { perAddress: { maxFailures: ADDRESS_LIMIT, windowMs: 600_000, lockMs: 60_000 } } });
  });
  afterAll(async () => server?.close());

  it(`of ${PARALLEL} parallel guesses at ${PARALLEL} usernames, at most the address limit (${ADDRESS_LIMIT}) are evaluated`, async () => {
    const outcomes = await Promise.all(
      Array.from({ length: PARALLEL }, (_, guess) => signIn(server, TRANSPORTS[guess % 2], server.credential(`sprayed-${guess}`, 'Summer2026!'))),
    );
    const counts = tally(outcomes);
    expect(counts).toEqual({ 401: ADDRESS_LIMIT, 429: PARALLEL - ADDRESS_LIMIT });
  });
});
