import { gqlOk } from '../support/http';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { hashesComputed, signIn, TRANSPORTS } from '../support/sign-in';

/**
 * A password hash per request (issue 9, "Credentials"): a client that encrypts its password with
 * a fresh nonce on every request sends a new credential each time. Before, each one cost a
 * database lookup and a full scrypt; now a verified (username, password) pair is remembered by
 * an HMAC of the decrypted password, so such a request costs a decryption, not a hash.
 * (`npm run bench:auth` measures the cost ratio.)
 */

const CREATE_USER = 'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }';
const REQUESTS = 20;
/** The statement that loads a user by name for a password check. */
const USER_LOOKUP = /from "users" as "u0" where "u0"\."username" = /;

describe.each(DATABASES)('fresh nonce on every request (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind, { bare: true });
  });
  afterAll(async () => server?.close());

  const lookups = () => server.queries.filter((sql) => USER_LOOKUP.test(sql)).length;

  it.each(TRANSPORTS)(
    `%s: ${REQUESTS} requests, each with a new credential for the same password, run no password check after the first`,
    async (transport) => {
      const username = `nonce-${transport}`;
      await gqlOk(server, server.users.admin, CREATE_USER, { input: { username, password: 'a nonce per request', roles: ['STAFF'] } });
      expect(await signIn(server, transport, server.credential(username, 'a nonce per request'))).toBe('ok');

      const lookupsBefore = lookups();
      const hashesBefore = hashesComputed(server);
      for (let request = 0; request < REQUESTS; request++) {
        expect(await signIn(server, transport, server.credential(username, 'a nonce per request'))).toBe('ok');
      }
      // No user lookup (before: one per request) and no scrypt.
      expect(lookups() - lookupsBefore).toBe(0);
      const hashesAfter = hashesComputed(server);
      expect(hashesBefore === undefined || hashesAfter === undefined ? 'no hasher' : hashesAfter - hashesBefore).toBe(0);

      // The cache remembers the right password only: a wrong one with a fresh nonce is checked and refused.
      expect(await signIn(server, transport, server.credential(username, 'a nonce per request!'))).toBe(401);
      expect(await signIn(server, transport, server.credential(username.toUpperCase(), 'a nonce per request'))).toBe(401);
    },
  );

  it('a changed user (invalidateUser) is checked again with the next fresh credential', async () => {
    const username = 'nonce-invalidated';
    await gqlOk(server, server.users.admin, CREATE_USER, { input: { username, password: 'a nonce per request', roles: ['STAFF'] } });
    expect(await signIn(server, 'graphql', server.credential(username, 'a nonce per request'))).toBe('ok');
    const { me } = await gqlOk<{ me: { id: string } }>(server, { credential: server.credential(username, 'a nonce per request') }, '{ me { id } }');
    const lookupsBefore = lookups();
    server.app.services.auth.invalidateUser(Number(me.id));
    expect(await signIn(server, 'graphql', server.credential(username, 'a nonce per request'))).toBe('ok');
    expect(lookups() - lookupsBefore).toBe(1);
  });
});
