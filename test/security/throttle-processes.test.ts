import { DEFAULT_USERNAME_LIMIT } from '../../src/modules/auth/login-throttle';
import { gqlOk } from '../support/http';
import { serversWithClients } from '../support/live-suite';
import type { TestServer } from '../support/server';
import { signIn, tally, TRANSPORTS, type Transport } from '../support/sign-in';

/**
 * Throttling across processes (issue 9, "Credentials"): two server processes (two `createApp`
 * instances, each with its own memory) on one PostgreSQL database count failed logins in one
 * place (the `login_throttle` table), so the limits hold for the deployment, not per process.
 * Before, each process kept its own counts: 40 parallel guesses split over two processes were
 * all evaluated, and 6 + 6 sequential failures never locked.
 */

const PARALLEL = 40;
const CREATE_USER = 'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }';
const ADDRESS_LIMIT = 16;
const from = (address: string) => ({ 'x-forwarded-for': address });

(process.env.TEST_DATABASE_URL ? describe : describe.skip)('two server processes on one PostgreSQL database', () => {
  let a: TestServer;
  let b: TestServer;
  const loginThrottle = { perAddress: { maxFailures: ADDRESS_LIMIT, windowMs: 600_000, lockMs: 60_000 } };
  // Behind a proxy (TRUST_PROXY), so each test can come from an address of its own.
  serversWithClients('postgres', 2, { bare: true, loginThrottle, config: { trustProxy: true } }, ([first, second]) => ([a, b] = [first, second]));

  const processes = () => [a, b];
  const createUser = (username: string) => gqlOk(a, a.users.admin, CREATE_USER, { input: { username, password: 'the real passphrase', roles: ['CUSTOMER'] } });

  it(`${PARALLEL} parallel guesses at one username, alternating between the processes and transports: exactly ${DEFAULT_USERNAME_LIMIT.maxFailures} evaluated`, async () => {
    await createUser('shared-victim');
    const outcomes = await Promise.all(
      Array.from({ length: PARALLEL }, (_, guess) =>
        signIn(processes()[guess % 2], TRANSPORTS[Math.floor(guess / 2) % 2], a.credential('shared-victim', `guess ${guess}`), from('198.51.100.1')),
      ),
    );
    expect(tally(outcomes)).toEqual({ 401: DEFAULT_USERNAME_LIMIT.maxFailures, 429: PARALLEL - DEFAULT_USERNAME_LIMIT.maxFailures });
    // Locked on both processes, even for the right password.
    for (const server of processes())
      expect(await signIn(server, 'legacy', a.credential('shared-victim', 'the real passphrase'), from('198.51.100.1'))).toBe(429);
  });

  it.each(TRANSPORTS)('%s: sequential failures add up across processes (6 on one, 4 on the other lock the username)', async (transport: Transport) => {
    const username = `sequential-${transport}`;
    const client = from(transport === 'graphql' ? '198.51.100.2' : '198.51.100.3');
    await createUser(username);
    for (let guess = 0; guess < DEFAULT_USERNAME_LIMIT.maxFailures; guess++) {
      expect(await signIn(guess < 6 ? a : b, transport, a.credential(username, `guess ${guess}`), client)).toBe(401);
    }
    expect(await signIn(a, transport, a.credential(username, 'one more'), client)).toBe(429);
    expect(await signIn(b, transport, a.credential(username, 'the real passphrase'), client)).toBe(429);
  });

  it(`the per-address limit (${ADDRESS_LIMIT} here) holds for both processes together`, async () => {
    // Fresh usernames, so only the address counter can refuse them.
    const outcomes = await Promise.all(
      Array.from({ length: PARALLEL }, (_, guess) =>
        signIn(processes()[guess % 2], TRANSPORTS[guess % 2], a.credential(`spray-${guess}`, 'Winter2026!'), from('198.51.100.4')),
      ),
    );
    expect(tally(outcomes)).toEqual({ 401: ADDRESS_LIMIT, 429: PARALLEL - ADDRESS_LIMIT });
  });

  it("a stranger locked through one process is locked on the other; the owner's fresh credentials keep working on both", async () => {
    await createUser('shared-owner');
    const owner = from('198.51.100.5');
    const stranger = from('198.51.100.6');
    for (const server of processes()) expect(await signIn(server, 'graphql', a.credential('shared-owner', 'the real passphrase'), owner)).toBe('ok');
    for (let guess = 0; guess < DEFAULT_USERNAME_LIMIT.maxFailures; guess++) {
      expect(await signIn(a, 'legacy', a.credential('shared-owner', `guess ${guess}`), stranger)).toBe(401);
    }
    expect(await signIn(b, 'legacy', a.credential('shared-owner', 'another guess'), stranger)).toBe(429);
    expect(await signIn(b, 'graphql', a.credential('shared-owner', 'the real passphrase'), stranger)).toBe(429);
    for (const server of processes()) {
      for (const transport of TRANSPORTS) expect(await signIn(server, transport, a.credential('shared-owner', 'the real passphrase'), owner)).toBe('ok');
    }
  });
});
