import { connect as netConnect, type Socket } from 'node:net';
import { MAX_JSON_BODY_BYTES, MAX_SMALL_BODY_BYTES } from '../../src/http/route-config';
import { ConfigError, DEFAULT_HTTP_TIMEOUTS, loadConfig } from '../../src/config';
import { MAX_URL_LENGTH } from '../../src/http/request-guards';
import { PNG_BYTES, upload } from '../support/http';
import { isWholeAnswer, parseHttpAnswer, type RawHttpAnswer } from '../support/raw-http';
import { startServer, type TestServer } from '../support/server';

/**
 * HTTP abuse limits (issue 6, "Abuse limits"): body size per route, slow clients cut off within
 * the configured bounds, security headers on every response, and refusals made before any route
 * runs (unknown route, undecodable or overlong URL, oversized headers, garbage) in the API's
 * `{code, message}` shape, never Fastify's or Node's default one and never a 5xx. Nothing here
 * depends on the database: the embedded one is enough.
 */

interface RawAnswer extends RawHttpAnswer {
  /** From the first byte written to the socket closing (or the answer, for keep-alive). */
  ms: number;
  closed: boolean;
}

/**
 * Writes `parts` on a fresh socket, `gapMs` apart, and reads the answer: the way a slow or
 * hostile client talks, which fetch cannot.
 */
function rawRequest(
  server: TestServer,
  parts: Array<string | Buffer>,
  options: { gapMs?: number; timeoutMs?: number; untilClosed?: boolean } = {},
): Promise<RawAnswer> {
  const { port, hostname } = new URL(server.url);
  const started = Date.now();
  return new Promise((resolve) => {
    const socket: Socket = netConnect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      clearInterval(writer);
      resolve({ ...parseHttpAnswer(Buffer.concat(chunks), 'latin1'), ms: Date.now() - started, closed });
      socket.destroy();
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // A complete answer with a length ends the wait, even on a kept-alive connection.
      if (!options.untilClosed && isWholeAnswer(Buffer.concat(chunks))) finish();
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on('error', () => undefined);
    const queue = [...parts];
    socket.write(queue.shift() ?? '');
    const writer = setInterval(() => {
      const next = queue.shift();
      if (next !== undefined && !socket.destroyed) socket.write(next);
    }, options.gapMs ?? 50);
    timer = setTimeout(finish, options.timeoutMs ?? 5_000);
  });
}

const get = (path: string, headers = ''): string => `GET ${path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n${headers}\r\n`;

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-resource-policy': 'same-origin',
};

describe('HTTP limits, headers and early refusals', () => {
  let server: TestServer;
  /**
   * The slow-client cases only: headers within 500 ms, the whole request within 1 s. The other
   * cases run on `server`, with the default timeouts: a 10 MiB upload from a client in this same
   * process does not reliably arrive within 1 s on a loaded machine (on Node 24 it got 408 "did
   * not arrive in time", correctly, instead of the 413 under test; docs/operations.md).
   */
  let slow: TestServer;
  /** Configured like production behind TLS: PUBLIC_URL https, timeouts left to their defaults. */
  let tls: TestServer;
  let imageUrl: string;
  beforeAll(async () => {
    [server, slow, tls] = await Promise.all([
      startServer('embedded'),
      startServer('embedded', { bare: true, config: { headersTimeoutMs: 500, requestTimeoutMs: 1_000 } }),
      startServer('embedded', { bare: true, config: { publicUrl: 'https://helpdesk.example.com' } }),
    ]);
    imageUrl = (await upload(server, server.users.customer, [{ bytes: PNG_BYTES }])).body.urls[0];
  });
  afterAll(async () => Promise.all([server?.close(), slow?.close(), tls?.close()]));

  describe('request bodies, per route (413)', () => {
    it.each([
      ['/graphql', MAX_JSON_BODY_BYTES],
      ['/api/ticket', MAX_JSON_BODY_BYTES],
      ['/uploads', MAX_SMALL_BODY_BYTES],
    ])('POST %s: a declared JSON body over %i bytes is refused before it is read', async (path, limit) => {
      // With a credential: a /graphql request without one may send 64 KiB only (test/security/body-before-auth.test.ts).
      const authorization = path === '/graphql' ? `Authorization: Credential ${server.users.customer.credential}\r\n` : '';
      const answer = await rawRequest(server, [
        `POST ${path} HTTP/1.1\r\nHost: test\r\n${authorization}Content-Type: application/json\r\nContent-Length: ${limit + 1}\r\n\r\n{`,
      ]);
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.body)).toEqual({ code: 413, message: 'The request body is too large' });
    });

    it('POST /uploads: a JSON body of 100 KiB is 413 (only multipart may be large there), a small one 400', async () => {
      const big = await fetch(`${server.url}/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Credential ${server.users.customer.credential}` },
        body: JSON.stringify({ images: 'x'.repeat(100 * 1024) }),
      });
      expect(big.status).toBe(413);
      const small = await fetch(`${server.url}/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Credential ${server.users.customer.credential}` },
        body: JSON.stringify({ images: 'x' }),
      });
      expect(small.status).toBe(400);
      expect(await small.json()).toEqual({ code: 400, message: 'Send images as multipart/form-data file parts' });
    });

    it('POST /uploads: 11 images or one over 10 MiB are 413 (multipart limits)', async () => {
      const eleven = await upload(
        server,
        server.users.customer,
        Array.from({ length: 11 }, () => ({ bytes: PNG_BYTES })),
      );
      expect(eleven).toEqual({ status: 413, body: { code: 413, message: 'At most 10 images per request' } });
      const huge = await upload(server, server.users.customer, [{ bytes: Buffer.concat([PNG_BYTES, Buffer.alloc(10 * 1024 * 1024)]) }]);
      expect(huge).toEqual({ status: 413, body: { code: 413, message: 'An image is larger than 10 MiB' } });
    });
  });

  describe('slow clients', () => {
    it('uses the documented timeouts when none are configured', () => {
      const http = tls.app.server.server;
      expect({ headers: http.headersTimeout, request: http.requestTimeout, idle: http.timeout, keepAlive: http.keepAliveTimeout }).toEqual({
        headers: DEFAULT_HTTP_TIMEOUTS.headersTimeoutMs,
        request: DEFAULT_HTTP_TIMEOUTS.requestTimeoutMs,
        idle: DEFAULT_HTTP_TIMEOUTS.idleTimeoutMs,
        keepAlive: DEFAULT_HTTP_TIMEOUTS.keepAliveTimeoutMs,
      });
    });

    it('cuts off a slowloris client dribbling header lines (headers timeout 500 ms) with 408, and serves others meanwhile', async () => {
      const dribble = Array.from({ length: 60 }, (_, i) => `X-Dribble-${i}: ${i}\r\n`);
      const dribbling = rawRequest(slow, ['GET /healthz HTTP/1.1\r\nHost: test\r\n', ...dribble], { gapMs: 50, untilClosed: true });
      const others = await fetch(`${slow.url}/healthz`);
      expect(others.status).toBe(200);
      const answer = await dribbling;
      expect(answer.closed).toBe(true);
      // 500 ms plus at most one connection check (500 ms), so about 1 s; the bound leaves room for a
      // loaded machine (1.8 s seen in CI on Node 24) and still tells the 500 ms setting from the
      // 15 s default, before the 3 s the client would dribble for.
      expect(answer.ms).toBeLessThan(2_500);
      expect(answer.status).toBe(408);
      expect(JSON.parse(answer.body)).toEqual({ code: 408, message: 'The request did not arrive in time' });
      expect(answer.headers).toMatchObject(SECURITY_HEADERS);
    });

    it('cuts off a client dribbling its body (request timeout 1 s) with 408', async () => {
      const body = Array.from({ length: 60 }, () => ' ');
      const answer = await rawRequest(
        slow,
        ['POST /api/ticket HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{', ...body],
        {
          gapMs: 50,
          untilClosed: true,
        },
      );
      expect(answer.closed).toBe(true);
      // 1 s plus at most one connection check (500 ms), so at most 1.5 s; as for the headers above,
      // a loaded machine adds most of a second (CI saw 0.8 s there), and the bound still comes
      // before the 3 s the client would dribble for and far below the default request timeout.
      expect(answer.ms).toBeLessThan(2_800);
      expect(answer.status).toBe(408);
      expect(JSON.parse(answer.body)).toEqual({ code: 408, message: 'The request did not arrive in time' });
    });
  });

  describe('refusals before any route runs: {code, message}, security headers, never 5xx', () => {
    it.each([
      ['an unknown route', get('/no/such/route'), 404, 'No route for GET /no/such/route'],
      ['a method no route takes', 'DELETE /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n', 404, 'No route for DELETE /healthz'],
      ['a URL that does not percent-decode', get('/images/%zz'), 400, 'The URL is malformed (it does not percent-decode)'],
      ['a path segment over 100 characters', get(`/images/${'a'.repeat(300)}`), 414, 'A path segment of the URL is too long'],
      ['a URL over 8 KiB', get(`/healthz?${'a'.repeat(MAX_URL_LENGTH)}`), 414, `The URL is longer than ${MAX_URL_LENGTH} characters`],
      ["a URL over Node's 16 KiB header bound", get(`/healthz?${'a'.repeat(20_000)}`), 414, 'The URL is too long'],
      ['headers over 16 KiB', get('/healthz', `X-Big: ${'a'.repeat(20_000)}\r\n`), 431, 'The request headers are too large'],
      ['a request that is not HTTP', 'HELLO THERE\r\n\r\n', 400, 'Malformed HTTP request'],
      ['a header line without a colon', 'GET /healthz HTTP/1.1\r\nHost: test\r\nno colon here\r\n\r\n', 400, 'Malformed HTTP request'],
    ])('%s', async (_case, request, status, message) => {
      const answer = await rawRequest(server, [request]);
      expect(answer.status).toBe(status);
      expect(JSON.parse(answer.body)).toEqual({ code: status, message });
      expect(answer.headers).toMatchObject(SECURITY_HEADERS);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
    });
  });

  describe('security headers', () => {
    const requests: Array<[string, () => Promise<Response>, number]> = [
      ['GET /healthz', () => fetch(`${server.url}/healthz`), 200],
      ['GET /readyz', () => fetch(`${server.url}/readyz`), 200],
      [
        'POST /graphql',
        () => fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' }),
        200,
      ],
      [
        'POST /graphql, malformed',
        () => fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":' }),
        400,
      ],
      ['POST /api/ticket, no credential', () => fetch(`${server.url}/api/ticket`, { method: 'POST', body: '{"action":"permission-check"}' }), 401],
      ['POST /uploads, no credential', () => fetch(`${server.url}/uploads`, { method: 'POST' }), 401],
      ['GET /images/<unknown>', () => fetch(`${server.url}/images/00000000-0000-7000-8000-000000000000`), 404],
    ];

    it.each(requests)('%s carries them', async (_name, send, status) => {
      const response = await send();
      expect(response.status).toBe(status);
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
        expect([name, response.headers.get(name)]).toEqual([
          name,
          name === 'cross-origin-resource-policy' && _name.startsWith('GET /images') ? 'cross-origin' : value,
        ]);
      }
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('strict-transport-security')).toBeNull();
    });

    it('images keep nosniff and their sandbox CSP, may be embedded cross-origin, and stay cacheable', async () => {
      const response = await fetch(imageUrl);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/png');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
      expect(response.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
      expect(response.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    });

    it('HSTS only when PUBLIC_URL is https, on refusals too', async () => {
      const ok = await fetch(`${tls.url}/healthz`);
      expect(ok.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      for (const request of [get('/healthz', `X-Big: ${'a'.repeat(20_000)}\r\n`), get('/%zz'), get('/nope')]) {
        expect((await rawRequest(tls, [request])).headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      }
    });
  });

  describe('request ids', () => {
    it('echoes a well-formed x-request-id and answers a fresh UUID otherwise', async () => {
      const echo = async (value?: string) =>
        (await fetch(`${server.url}/healthz`, { headers: value === undefined ? {} : { 'x-request-id': value } })).headers.get('x-request-id');
      expect(await echo('3f2c9a7e-1b2d-4c5e-9f00-aa11bb22cc33')).toBe('3f2c9a7e-1b2d-4c5e-9f00-aa11bb22cc33');
      expect(await echo('trace:Root=1-5759e988-bd862e3fe1be46a994272793')).toBe('trace:Root=1-5759e988-bd862e3fe1be46a994272793');
      const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
      for (const bad of [undefined, '', 'has spaces in it', 'x'.repeat(129), 'quote"d', '<script>']) {
        expect(await echo(bad)).toMatch(uuid);
      }
      expect(await echo()).not.toBe(await echo());
    });

    it('carries it on refusals made before routing too', async () => {
      const answer = await rawRequest(server, [get('/images/%zz', 'X-Request-Id: refused-42\r\n')]);
      expect(answer.headers['x-request-id']).toBe('refused-42');
      const missing = await rawRequest(server, [get('/nope', 'X-Request-Id: missing-7\r\n')]);
      expect(missing.headers['x-request-id']).toBe('missing-7');
    });
  });
});

describe('abuse-limit settings', () => {
  const load = (env: Record<string, string>) => loadConfig({ CREDENTIAL_KEY: 'ab'.repeat(32), DATA_DIR: '/nonexistent', ...env });

  it('defaults: introspection on (off under NODE_ENV=production), landing page off, the documented timeouts', () => {
    expect(load({})).toMatchObject({ graphqlIntrospection: true, graphqlLandingPage: false, ...DEFAULT_HTTP_TIMEOUTS });
    expect(load({ NODE_ENV: 'production' }).graphqlIntrospection).toBe(false);
    expect(load({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' }).graphqlIntrospection).toBe(true);
  });

  it('reads them', () => {
    expect(
      load({
        GRAPHQL_INTROSPECTION: 'off',
        GRAPHQL_LANDING_PAGE: 'yes',
        HTTP_HEADERS_TIMEOUT_MS: '5000',
        HTTP_REQUEST_TIMEOUT_MS: '30000',
        HTTP_IDLE_TIMEOUT_MS: '20000',
        HTTP_KEEP_ALIVE_TIMEOUT_MS: '65000',
      }),
    ).toMatchObject({
      graphqlIntrospection: false,
      graphqlLandingPage: true,
      headersTimeoutMs: 5000,
      requestTimeoutMs: 30000,
      idleTimeoutMs: 20000,
      keepAliveTimeoutMs: 65000,
    });
  });

  it.each([
    ['GRAPHQL_INTROSPECTION', 'maybe'],
    ['GRAPHQL_LANDING_PAGE', '2'],
    ['HTTP_HEADERS_TIMEOUT_MS', '0'],
    ['HTTP_REQUEST_TIMEOUT_MS', '1.5'],
    ['HTTP_IDLE_TIMEOUT_MS', '-1'],
    ['HTTP_KEEP_ALIVE_TIMEOUT_MS', '3600001'],
    ['HTTP_HEADERS_TIMEOUT_MS', '15s'],
    ['HTTP_HEADERS_TIMEOUT_MS', '150000'],
  ])('refuses %s=%s, naming the setting', (name, value) => {
    expect(() => load({ [name]: value })).toThrow(ConfigError);
    expect(() => load({ [name]: value })).toThrow(new RegExp(`^${name} (must|\\(\\d+\\) must)`));
  });
});
