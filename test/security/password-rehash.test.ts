import { ConfigError, loadConfig } from '../../src/config';
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

describe('the PASSWORD_SCRYPT_LOG2_N setting (test environments)', () => {
  const load = (env: Record<string, string>) => loadConfig({ CREDENTIAL_KEY: 'ab'.repeat(32), DATA_DIR: '/nonexistent', ...env });

  it('is unset by default (N=2^17) and reads 12 to 18', () => {
    expect(load({}).passwordScryptLog2N).toBeUndefined();
    expect(load({ PASSWORD_SCRYPT_LOG2_N: '12' }).passwordScryptLog2N).toBe(12);
    expect(load({ PASSWORD_SCRYPT_LOG2_N: '18' }).passwordScryptLog2N).toBe(18);
  });

  it.each(['11', '19', 'x', '14.5', '-3'])('refuses %j with a configuration error naming the setting', (value) => {
    expect(() => load({ PASSWORD_SCRYPT_LOG2_N: value })).toThrow(ConfigError);
    expect(() => load({ PASSWORD_SCRYPT_LOG2_N: value })).toThrow(/^PASSWORD_SCRYPT_LOG2_N must be/);
  });

  it('hashes at the configured cost and warns at start that it is below the guidance', async () => {
    const lines: string[] = [];
    const server = await startServer('embedded', {
      bare: true,
      testOnlyScryptParams: undefined,
      config: { passwordScryptLog2N: 13 },
      logger: { level: 'warn' },
      logStream: { write: (line) => void lines.push(line) },
    });
    try {
      const stored = (await server.app.database.orm.em.fork().findOneOrFail(User, { username: 'admin' })).passwordHash;
      expect(stored).toMatch(/^scrypt\$8192\$8\$1\$/);
      expect(lines.join('')).toContain('Password hashes use scrypt N below OWASP guidance');
    } finally {
      await server.close();
    }
  });
});
