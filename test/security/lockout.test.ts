import { randomBytes } from 'node:crypto';
import { GRAPHQL_TRANSPORT_WS_PROTOCOL, MessageType } from 'graphql-ws';
import WebSocket from 'ws';
import { ConfigError, loadConfig } from '../../src/config';
import { encodeCredential } from '../../src/modules/auth/credential';
import { DEFAULT_USERNAME_LIMIT } from '../../src/modules/auth/login-throttle';
import { wsUrl } from '../support/live-client';
import { gqlOk } from '../support/http';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { signIn, TRANSPORTS } from '../support/sign-in';

/**
 * Lockout as a weapon (issue 9, "Credentials"): a stranger guessing at a username must not lock
 * its owner out. The owner's credential in use keeps working; so does a fresh credential (a new
 * nonce) from the address the owner signed in from, because past the first threshold the lock
 * is the stranger's (username, address) and the username-wide lock does not apply to the
 * owner's own address. Before, ten guesses locked the username for everyone, the lock doubled
 * with every further guess up to 15 minutes, and the owner's fresh credentials got 429.
 *
 * The server trusts X-Forwarded-For (TRUST_PROXY), so the test can play several addresses.
 */

const CREATE_USER = 'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }';
const PASSWORD = 'owner passphrase 2026';
const OWNER = { 'x-forwarded-for': '198.51.100.7' };
const STRANGER = { 'x-forwarded-for': '203.0.113.66' };
const NEWCOMER = { 'x-forwarded-for': '192.0.2.200' };

describe.each(DATABASES)('a stranger guessing does not lock the owner out (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind, { bare: true, config: { trustProxy: true } });
  });
  afterAll(async () => server?.close());

  it.each(TRANSPORTS)('%s', async (transport) => {
    const username = `owner-${transport}`;
    await gqlOk(server, server.users.admin, CREATE_USER, { input: { username, password: PASSWORD, roles: ['CUSTOMER'] } });
    const inUse = server.credential(username, PASSWORD);
    expect(await signIn(server, transport, inUse, OWNER)).toBe('ok');

    // The stranger passes the first threshold and keeps going.
    for (let guess = 0; guess < DEFAULT_USERNAME_LIMIT.maxFailures; guess++) {
      expect(await signIn(server, transport, server.credential(username, `guess ${guess}`), STRANGER)).toBe(401);
    }
    for (let guess = 0; guess < 5; guess++) {
      expect(await signIn(server, transport, server.credential(username, `more ${guess}`), STRANGER)).toBe(429);
    }
    // The stranger is locked, even with the right password: no guess is answered from a cache.
    expect(await signIn(server, transport, server.credential(username, PASSWORD), STRANGER)).toBe(429);

    // The owner: the credential in use, and fresh ones (a new nonce per request), keep working.
    expect(await signIn(server, transport, inUse, OWNER)).toBe('ok');
    for (let request = 0; request < 3; request++) {
      expect(await signIn(server, transport, server.credential(username, PASSWORD), OWNER)).toBe('ok');
    }
    // A first sign-in from an address never seen for this username waits out the username's
    // first-threshold lock (30 s, never doubled): the protection against guessers spread over
    // many addresses.
    expect(await signIn(server, transport, server.credential(username, PASSWORD), NEWCOMER)).toBe(429);
  });
});

describe.each(DATABASES)('TRUST_PROXY (%s)', (kind) => {
  const ADDRESS_LIMIT = 5;
  const loginThrottle = { perAddress: { maxFailures: ADDRESS_LIMIT, windowMs: 600_000, lockMs: 60_000 } };
  const junk = () => encodeCredential('whoever', 'whatever', randomBytes(32));

  /** A graphql-ws `connection_init` with this credential and these upgrade headers: acked, or the close code. */
  async function connectionInit(server: TestServer, credential: string, headers: Record<string, string>): Promise<'ack' | number> {
    const socket = new WebSocket(wsUrl(server), GRAPHQL_TRANSPORT_WS_PROTOCOL, { headers });
    try {
      return await new Promise<'ack' | number>((resolve, reject) => {
        socket.once('error', reject);
        socket.once('open', () => socket.send(JSON.stringify({ type: MessageType.ConnectionInit, payload: { credential } })));
        socket.on('message', (data) => {
          if (JSON.parse(String(data)).type === MessageType.ConnectionAck) resolve('ack');
        });
        socket.once('close', (code) => resolve(code));
      });
    } finally {
      socket.close();
    }
  }

  it('off (the default): X-Forwarded-For is ignored, so a client cannot escape its address lock by forging it', async () => {
    const server = await startServer(kind, { loginThrottle });
    try {
      expect(server.app.config.trustProxy).toBeUndefined();
      for (let attempt = 0; attempt < ADDRESS_LIMIT; attempt++) {
        expect(await signIn(server, 'legacy', junk(), { 'x-forwarded-for': `203.0.113.${attempt}` })).toBe(401);
      }
      expect(await signIn(server, 'legacy', junk(), { 'x-forwarded-for': '192.0.2.1' })).toBe(429);
      expect(await signIn(server, 'graphql', server.users.staff.credential, { 'x-forwarded-for': '192.0.2.2' })).toBe(429);
    } finally {
      await server.close();
    }
  });

  it('on: each forwarded client is counted under its own address, on HTTP and graphql-ws alike', async () => {
    const server = await startServer(kind, { loginThrottle, config: { trustProxy: true } });
    try {
      const attacker = { 'x-forwarded-for': '203.0.113.9' };
      for (let attempt = 0; attempt < ADDRESS_LIMIT; attempt++) {
        expect(await signIn(server, TRANSPORTS[attempt % 2], junk(), attacker)).toBe(401);
      }
      expect(await signIn(server, 'legacy', junk(), attacker)).toBe(429);
      expect(await signIn(server, 'graphql', server.users.staff.credential, attacker)).toBe(429);
      expect(await connectionInit(server, server.users.staff.credential, attacker)).toBe(4403);
      // Everyone else behind the same proxy is unaffected.
      const colleague = { 'x-forwarded-for': '198.51.100.30, 10.0.0.1' };
      expect(await signIn(server, 'graphql', server.users.staff.credential, colleague)).toBe('ok');
      expect(await signIn(server, 'legacy', server.users.customer.credential, { 'x-forwarded-for': '198.51.100.31' })).toBe('ok');
      expect(await connectionInit(server, server.users.customer.credential, { 'x-forwarded-for': '198.51.100.32' })).toBe('ack');
    } finally {
      await server.close();
    }
  });
});

describe('the TRUST_PROXY setting', () => {
  const load = (env: Record<string, string>) => loadConfig({ CREDENTIAL_KEY: 'ab'.repeat(32), DATA_DIR: '/nonexistent', ...env });

  it('is off by default', () => {
    expect(load({}).trustProxy).toBe(false);
    expect(load({ TRUST_PROXY: '' }).trustProxy).toBe(false);
  });

  it.each([
    ['true', true],
    ['on', true],
    ['false', false],
    ['0', false],
    ['1', 1],
    ['2', 2],
    ['10.0.0.1', ['10.0.0.1']],
    ['10.0.0.0/8, 192.168.0.0/16,::1', ['10.0.0.0/8', '192.168.0.0/16', '::1']],
    ['loopback,uniquelocal', ['loopback', 'uniquelocal']],
    ['fd00::/8', ['fd00::/8']],
  ])('reads %j', (value, expected) => {
    expect(load({ TRUST_PROXY: value }).trustProxy).toEqual(expected);
  });

  it.each(['maybe', '33', '10.0.0.0/33', '::1/129', '10.0.0.1/8/1', 'example.com', '10.0.0.1,,10.0.0.2', '-1'])(
    'refuses %j with a configuration error naming the setting',
    (value) => {
      expect(() => load({ TRUST_PROXY: value })).toThrow(ConfigError);
      expect(() => load({ TRUST_PROXY: value })).toThrow(/^TRUST_PROXY must be/);
    },
  );
});
