import { randomBytes } from 'node:crypto';
import { GRAPHQL_TRANSPORT_WS_PROTOCOL, MessageType } from 'graphql-ws';
import WebSocket from 'ws';
import { encodeCredential } from '../../src/modules/auth/credential';
import { DEFAULT_ADDRESS_LIMIT, DEFAULT_USERNAME_LIMIT } from '../../src/modules/auth/login-throttle';
import { errorCode, gql, gqlOk, PNG_BYTES, upload } from '../support/http';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { wsUrl } from '../support/live-client';

/**
 * Credentials under attack (issue 6, "Abuse limits"): failed logins are throttled on every
 * surface (GraphQL, legacy, uploads, graphql-ws `connection_init`), credentials that do not
 * even decode count against the client's address, `createUser` refuses guessable passwords, and
 * no secret reaches the logs, which carry a request id.
 */

const CREATE_USER = 'mutation($input: CreateUserInput!) { createUser(input: $input) { id username } }';

/** How a graphql-ws `connection_init` with these params ends: acknowledged, or the close code. */
async function connectionInit(server: TestServer, params: Record<string, unknown>): Promise<'ack' | number> {
  const socket = new WebSocket(wsUrl(server), GRAPHQL_TRANSPORT_WS_PROTOCOL);
  try {
    return await new Promise<'ack' | number>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('open', () => socket.send(JSON.stringify({ type: MessageType.ConnectionInit, payload: params })));
      socket.on('message', (data) => {
        if (JSON.parse(String(data)).type === MessageType.ConnectionAck) resolve('ack');
      });
      socket.once('close', (code) => resolve(code));
    });
  } finally {
    socket.close();
  }
}

const legacy = (server: TestServer, credential: unknown) =>
  fetch(`${server.url}/api/ticket`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ action: 'permission-check', credential }),
  });

describe.each(DATABASES)('credentials (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(async () => server?.close());

  const createUser = (input: Record<string, unknown>) => gql(server, server.users.admin, CREATE_USER, { input });

  it('locks a username after 10 failures on any surface: GraphQL TOO_MANY_REQUESTS with retryAfterSeconds, uploads and legacy 429 with Retry-After, graphql-ws refused', async () => {
    const password = 'a perfectly good password';
    await gqlOk(server, server.users.admin, CREATE_USER, { input: { username: 'target', password, roles: ['CUSTOMER'] } });
    const wrong = { credential: server.credential('target', 'guess') };
    // Failures count whatever the surface: three over graphql-ws, the rest over GraphQL.
    for (let attempt = 1; attempt <= 3; attempt++) expect(await connectionInit(server, wrong)).toBe(4403);
    for (let attempt = 4; attempt <= DEFAULT_USERNAME_LIMIT.maxFailures; attempt++)
      expect(errorCode(await gql(server, wrong, '{ me { id } }'))).toBe('UNAUTHENTICATED');

    // Locked now, even with the right password (it was never verified, so it is not cached).
    const right = { credential: server.credential('target', password) };
    const graphql = await gql(server, right, '{ me { id } }');
    // Refused before its body is read (issue 9): 429, in GraphQL's shape.
    expect(graphql.status).toBe(429);
    expect(graphql.errors?.[0]).toMatchObject({ message: 'Too many failed login attempts, retry later', extensions: { code: 'TOO_MANY_REQUESTS' } });
    expect(graphql.errors?.[0].extensions?.retryAfterSeconds).toBeGreaterThanOrEqual(1);

    const uploads = await fetch(`${server.url}/uploads`, {
      method: 'POST',
      headers: { authorization: `Credential ${right.credential}` },
      body: (() => {
        const form = new FormData();
        form.append('images', new Blob([PNG_BYTES]), 'a.png');
        return form;
      })(),
    });
    expect(uploads.status).toBe(429);
    expect(Number(uploads.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await uploads.json()).toEqual({ code: 429, message: 'Too many failed login attempts, retry later' });

    const old = await legacy(server, right.credential);
    expect(old.status).toBe(429);
    expect(Number(old.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    expect(await connectionInit(server, right)).toBe(4403);
    // Nobody else is locked out.
    expect(await connectionInit(server, { credential: server.users.customer.credential })).toBe('ack');
    expect((await upload(server, server.users.customer, [{ bytes: PNG_BYTES }])).status).toBe(201);
  });

  describe('password rules for createUser', () => {
    it.each([
      ['the username', 'helpdesk.agent', 'helpdesk.agent', 'password must not be the username'],
      ['the username in another case, with spaces around', 'Jane.Doe-1', '  jane.doe-1 ', 'password must not be the username'],
      ['a common password', 'common1', 'password123', 'password is one of the most common passwords; choose another'],
      ['a common password in capitals', 'common2', 'QWERTYUIOP', 'password is one of the most common passwords; choose another'],
      ['a common password padded with spaces', 'common3', ' iloveyou ', 'password is one of the most common passwords; choose another'],
      ['7 characters', 'short1', 'abc1234', 'password must be 8 to 1024 characters'],
    ])('refuses %s: BAD_USER_INPUT naming password, no user created', async (_case, username, password, message) => {
      const result = await createUser({ username, password, roles: ['CUSTOMER'] });
      expect(result.errors?.[0]).toMatchObject({ message, extensions: { code: 'BAD_USER_INPUT', field: 'password' } });
      expect(result.data).toBeNull();
      // The name is still free: nothing was stored.
      expect((await createUser({ username, password: 'an acceptable passphrase', roles: ['CUSTOMER'] })).errors).toBeUndefined();
    });

    it('accepts a password that merely contains the username or a common word', async () => {
      for (const [username, password] of [
        ['marek', 'marek likes long passwords'],
        ['pw-user', 'password123 is not mine'],
      ]) {
        expect((await createUser({ username, password, roles: ['STAFF'] })).errors).toBeUndefined();
      }
    });
  });
});

describe.each(DATABASES)('credentials that do not decode count against the address (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(async () => server?.close());

  it(`locks the address after ${DEFAULT_ADDRESS_LIMIT.maxFailures} malformed or wrong-key credentials, on every surface; a verified credential keeps working`, async () => {
    // The customer's credential is verified (and cached) before the attack starts.
    await gqlOk(server, server.users.customer, '{ me { id } }');
    // Requests without any credential are refused but are no login attempts: they count for nothing.
    for (let request = 0; request < DEFAULT_ADDRESS_LIMIT.maxFailures + 20; request++) {
      const answer =
        request % 3 === 0
          ? await legacy(server, undefined)
          : request % 3 === 1
            ? await legacy(server, '')
            : await fetch(`${server.url}/uploads`, { method: 'POST' });
      expect(answer.status).toBe(401);
    }
    const otherKey = randomBytes(32);
    const junk = [
      'zz-not-hex',
      'abc',
      'ff'.repeat(40),
      Buffer.from('{"username":"customer"}').toString('hex'),
      encodeCredential('customer', 'correct horse battery', otherKey),
      encodeCredential('nobody', 'whatever', otherKey),
    ];
    const surfaces: Array<(credential: string) => Promise<number>> = [
      async (credential) => ((await gql(server, { credential }, '{ me { id } }')).errors?.[0].extensions?.code === 'UNAUTHENTICATED' ? 401 : 0),
      async (credential) => (await legacy(server, credential)).status,
      async (credential) => (await fetch(`${server.url}/uploads`, { method: 'POST', headers: { authorization: `Credential ${credential}` } })).status,
      async (credential) => ((await connectionInit(server, { credential })) === 4403 ? 401 : 0),
    ];
    for (let attempt = 0; attempt < DEFAULT_ADDRESS_LIMIT.maxFailures; attempt++) {
      expect(await surfaces[attempt % surfaces.length](junk[attempt % junk.length])).toBe(401);
    }

    const locked = await legacy(server, junk[0]);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // The lock is the address's: an uncached credential from it, even a right one, waits too.
    const staff = await gql(server, server.users.staff, '{ me { id } }');
    expect(staff.errors?.[0].extensions).toMatchObject({ code: 'TOO_MANY_REQUESTS', retryAfterSeconds: expect.any(Number) });
    // A credential verified before the attack is still served from the cache.
    expect((await gqlOk(server, server.users.customer, '{ me { username } }')).me.username).toBe('customer');
  });
});

describe('secrets never reach the logs; request logs carry the request id', () => {
  let server: TestServer;
  const lines: string[] = [];
  beforeAll(async () => {
    server = await startServer('embedded', {
      logger: { level: 'debug' },
      logStream: { write: (line: string) => void lines.push(line) },
    });
  });
  afterAll(async () => server?.close());

  it('redacts credentials, passwords and the key from every line of a day of abuse', async () => {
    const consoleError = jest.spyOn(console, 'error');
    const newPassword = `S3cret-${randomBytes(6).toString('hex')}`;
    const wrongPassword = `Wr0ng-${randomBytes(6).toString('hex')}`;
    const wrong = server.credential('customer', wrongPassword);
    const customer = server.users.customer.credential;
    const admin = server.users.admin.credential;

    await gqlOk(server, server.users.admin, CREATE_USER, { input: { username: 'logged', password: newPassword, roles: ['CUSTOMER'] } });
    await gql(server, { credential: wrong }, '{ me { id } }');
    await legacy(server, customer);
    await legacy(server, wrong);
    // A body that does not parse, with the credential in it.
    await fetch(`${server.url}/api/ticket`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"action": "list", "credential": "${customer}",,}`,
    });
    // Variables in the URL of a (CSRF-refused) GET.
    const variables = encodeURIComponent(JSON.stringify({ input: { username: 'x', password: newPassword, roles: ['CUSTOMER'] } }));
    await fetch(`${server.url}/graphql?query=${encodeURIComponent(CREATE_USER)}&variables=${variables}&credential=${customer}`, {
      headers: { authorization: `Credential ${admin}` },
    });
    await upload(server, server.users.customer, [{ bytes: PNG_BYTES }]);
    await fetch(`${server.url}/uploads`, { method: 'POST', headers: { authorization: `Credential ${wrong}`, 'x-request-id': 'abuse-run-1' } });
    expect(await connectionInit(server, { credential: wrong, password: wrongPassword })).toBe(4403);

    // A graphql-ws frame over 64 KiB: the socket closes with 1009, a warning is logged, nothing on the console.
    const socket = new WebSocket(wsUrl(server), GRAPHQL_TRANSPORT_WS_PROTOCOL);
    await new Promise((resolve) => socket.once('open', resolve));
    const closed = new Promise<number>((resolve) => socket.once('close', resolve));
    socket.send(JSON.stringify({ type: MessageType.ConnectionInit, payload: { credential: customer, padding: 'x'.repeat(70 * 1024) } }));
    expect(await closed).toBe(1009);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(consoleError).not.toHaveBeenCalled();
    consoleError.mockRestore();

    const log = lines.join('');
    const secrets = {
      customer,
      admin,
      wrong,
      newPassword,
      wrongPassword,
      fixturePassword: 'correct horse battery',
      adminPassword: 'admin password 1',
      key: server.key.toString('hex'),
    };
    for (const [name, secret] of Object.entries(secrets)) {
      expect([name, log.includes(secret)]).toEqual([name, false]);
      // Not even a long slice of it (a message quoting part of a body).
      if (secret.length > 40) expect([name, log.includes(secret.slice(10, 42))]).toEqual([name, false]);
    }

    const entries = lines.map((line) => JSON.parse(line) as Record<string, any>);
    expect(entries.some((entry) => entry.msg === 'WebSocket client error; socket closed' && entry.level === 40)).toBe(true);
    // Request logs: structured, with the request id the client sent, and URLs without their query string.
    const tagged = entries.filter((entry) => entry.reqId === 'abuse-run-1');
    expect(tagged.map((entry) => entry.msg)).toEqual(expect.arrayContaining(['incoming request', 'request completed']));
    expect(tagged.find((entry) => entry.msg === 'incoming request')?.req).toMatchObject({ method: 'POST', url: '/uploads' });
    expect(tagged.find((entry) => entry.msg === 'request completed')?.res).toMatchObject({ statusCode: 401 });
    const urls = entries.filter((entry) => entry.req?.url?.startsWith('/graphql?')).map((entry) => entry.req.url);
    expect(urls).toEqual(['/graphql?[redacted]']);
  });
});
