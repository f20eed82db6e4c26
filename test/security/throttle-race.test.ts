import { DEFAULT_USERNAME_LIMIT } from '../../src/modules/auth/login-throttle';
import { gqlOk } from '../support/http';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { hashesComputed, signIn, tally, TRANSPORTS } from '../support/sign-in';

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
