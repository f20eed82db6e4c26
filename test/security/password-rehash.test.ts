import { hashPassword, SCRYPT_PARAMS } from '../../src/modules/auth/password';
import { Role } from '../../src/modules/user/role';
import { User } from '../../src/modules/user/user.entity';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { signIn, TRANSPORTS } from '../support/sign-in';

/**
 * Password hashing to OWASP's guidance (issue 9, "Credentials"): new hashes use scrypt N=2^17,
 * r=8, p=1 (before: N=2^14); a hash stored with the old parameters still verifies and is
 * replaced by a full-strength one on the next successful sign-in. This suite runs the server at
 * production strength (the other suites use the test-only cheaper parameters).
 */

const OLD_PARAMS = { N: 2 ** 14, r: 8, p: 1 };
const PASSWORD = 'an old but good passphrase';

describe.each(DATABASES)('rehash on sign-in (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind, { bare: true, testOnlyScryptParams: SCRYPT_PARAMS });
  });
  afterAll(async () => server?.close());

  const storedHash = async (username: string) =>
    (await server.app.database.orm.em.fork().findOneOrFail(User, { username }, { disableIdentityMap: true })).passwordHash;

  it('creates new users with N=2^17, r=8, p=1', async () => {
    expect(SCRYPT_PARAMS).toEqual({ N: 131072, r: 8, p: 1 });
    expect(await storedHash('admin')).toMatch(/^scrypt\$131072\$8\$1\$/);
  });

  it.each(TRANSPORTS)('%s: an N=2^14 hash verifies, is replaced by an N=2^17 one, and the password still works', async (transport) => {
    const username = `legacy-hash-${transport}`;
    const em = server.app.database.orm.em.fork();
    em.create(User, { username, passwordHash: await hashPassword(PASSWORD, OLD_PARAMS), roles: [Role.CUSTOMER] });
    await em.flush();
    expect(await storedHash(username)).toMatch(/^scrypt\$16384\$8\$1\$/);

    // A wrong password rehashes nothing.
    expect(await signIn(server, transport, server.credential(username, 'not it'))).toBe(401);
    expect(await storedHash(username)).toMatch(/^scrypt\$16384\$/);

    expect(await signIn(server, transport, server.credential(username, PASSWORD))).toBe('ok');
    const upgraded = await storedHash(username);
    expect(upgraded).toMatch(/^scrypt\$131072\$8\$1\$/);

    // Checked against the new hash from scratch: the right password passes, a wrong one does not.
    const { id } = await server.app.database.orm.em.fork().findOneOrFail(User, { username });
    server.app.services.auth.invalidateUser(id);
    expect(await signIn(server, transport, server.credential(username, 'not it either'))).toBe(401);
    expect(await signIn(server, transport, server.credential(username, PASSWORD))).toBe('ok');
    expect(await storedHash(username)).toBe(upgraded);
  });
});
