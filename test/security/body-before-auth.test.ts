import { connect as netConnect, type Socket } from 'node:net';
import { ANONYMOUS_BODY_BYTES } from '../../src/http/auth-before-body';
import { DRAIN_BEFORE_REFUSAL_BYTES, DRAIN_BEFORE_REFUSAL_MS } from '../../src/http/body-guards';
import { errorCode, gql, PNG_BYTES } from '../support/http';
import { isWholeAnswer, parseHttpAnswer, type RawHttpAnswer } from '../support/raw-http';
import { DATABASES, startServer, type TestServer } from '../support/server';

/**
 * Issue 9, "Bodies read before we know who is asking". Each refusal here is made while the client
 * has sent only the start of the body it declared and holds the rest back: an answer proves the
 * server decided without reading it (before, it waited for the body, up to the 2-minute request
 * timeout, holding what had come). Clients use their own loopback addresses (127.0.0.x) so the
 * per-address throttle and connection cap of one case do not touch the others.
 */
const MB = 1024 * 1024;
/** Bytes of large bodies read at once on the test server: a few MiB, so a test can fill it. */
const BUDGET = 4 * MB;
const CONNECTIONS_PER_ADDRESS = 8;
/** How long a client waits for an answer to a request whose body it holds back. */
const WAIT_MS = 3_000;

interface RawAnswer extends RawHttpAnswer {
  /** The server closed the connection. */
  closed: boolean;
}

/** Reads one HTTP answer from `socket`: complete (by content-length), or what came before it closed or `WAIT_MS` passed. */
function answerOf(socket: Socket, waitMs = WAIT_MS): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let closed = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...parseHttpAnswer(Buffer.concat(chunks), 'utf8'), closed });
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (isWholeAnswer(Buffer.concat(chunks))) {
        // Let a `connection: close` show as closed.
        setTimeout(finish, 50);
      }
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on('error', () => undefined);
  });
}

/** Opens a connection from `localAddress` (a loopback address of the test's own). */
async function open(server: TestServer, localAddress: string): Promise<Socket> {
  const { port } = new URL(server.url);
  const socket = netConnect({ port: Number(port), host: '127.0.0.1', localAddress });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

/**
 * Sends `POST path` declaring a body of `declared` bytes, writes only `start` of it and holds
 * the rest; the answer (status 0 if none came within WAIT_MS) and the still-open socket.
 */
async function held(
  server: TestServer,
  localAddress: string,
  path: string,
  declared: number,
  start: string | Buffer,
  headers: Record<string, string> = {},
): Promise<RawAnswer & { socket: Socket }> {
  const socket = await open(server, localAddress);
  const head = Object.entries({ host: 'test', 'content-type': 'application/json', 'content-length': String(declared), ...headers })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const answer = answerOf(socket);
  socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n`);
  socket.write(start);
  return { ...(await answer), socket };
}

const graphqlErrors = (answer: RawAnswer): Array<{ message: string; extensions?: { code?: string } }> => JSON.parse(answer.body).errors;

describe.each(DATABASES)('bodies are not read before we know who is asking (%s)', (kind) => {
  let server: TestServer;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    server = await startServer(kind, { config: { maxBodyBytesInFlight: BUDGET, maxConnectionsPerAddress: CONNECTIONS_PER_ADDRESS } });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await server?.close();
  });
  const keep = <T extends { socket: Socket }>(answer: T): T => {
    sockets.push(answer.socket);
    return answer;
  };

  describe('/graphql: the credential is a header, checked first', () => {
    it('refuses a large body without an Authorization header with 413 before reading it', async () => {
      const answer = keep(await held(server, '127.0.0.2', '/graphql', 10 * MB, '{"query": "mutation { createTicket('));
      expect(answer.status).toBe(413);
      expect(answer.closed).toBe(true);
      expect(graphqlErrors(answer)[0]).toEqual({
        message: `A request without an Authorization header may carry at most ${ANONYMOUS_BODY_BYTES} bytes: send your credential to send more`,
        extensions: { code: 'PAYLOAD_TOO_LARGE' },
      });
    });

    it.each([
      ['another scheme', 'Basic dXNlcjpwYXNz'],
      ['a credential that is not hex', 'Credential zz'],
      ['an empty credential', 'Credential'],
    ])('refuses %s with 401 before reading the body', async (_name, authorization) => {
      const answer = keep(await held(server, '127.0.0.2', '/graphql', 10 * MB, '{"query": "{', { authorization }));
      expect(answer.status).toBe(401);
      expect(answer.closed).toBe(true);
      expect(graphqlErrors(answer)[0]).toEqual({ message: 'Invalid credential', extensions: { code: 'UNAUTHENTICATED' } });
    });

    it('refuses a wrong password with 401 before reading the body', async () => {
      const authorization = `Credential ${server.credential('customer', 'not the password')}`;
      const answer = keep(await held(server, '127.0.0.2', '/graphql', 10 * MB, '{"query": "{', { authorization }));
      expect(answer.status).toBe(401);
      expect(graphqlErrors(answer)[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });

    it('answers a small request without a header as before (introspection works; the viewer is UNAUTHENTICATED)', async () => {
      const typename = await gql(server, null, '{ __typename }');
      expect(typename).toMatchObject({ status: 200, data: { __typename: 'Query' } });
      expect(errorCode(await gql(server, null, '{ me { id } }'))).toBe('UNAUTHENTICATED');
    });

    it('refuses a chunked body without a header once it passes the small limit', async () => {
      const socket = await open(server, '127.0.0.2');
      sockets.push(socket);
      const answer = answerOf(socket);
      socket.write('POST /graphql HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n');
      const chunk = `{"query": "{ __typename }", "variables": {"pad": "${'x'.repeat(ANONYMOUS_BODY_BYTES)}"`;
      socket.write(`${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`);
      const { status, body } = await answer;
      expect(status).toBe(413);
      expect(body).toContain(`at most ${ANONYMOUS_BODY_BYTES} bytes`);
    });

    it('takes a large body from a verified credential: a ticket with a 1 MiB inline image', async () => {
      const image = Buffer.concat([PNG_BYTES, Buffer.alloc(MB, 7)]);
      const result = await gql(server, server.users.customer, 'mutation($input: CreateTicketInput!) { createTicket(input: $input) { id images } }', {
        input: { content: 'with an inline image', images: [`data:image/png;base64,${image.toString('base64')}`] },
      });
      expect(result.errors).toBeUndefined();
      expect(result.data?.createTicket.images).toHaveLength(1);
    });
  });

  it('refuses a throttled address with 429 on every large-body route before reading the body', async () => {
    // Credentials that do not decode count against the address alone: send them until it locks.
    let locked = false;
    for (let attempt = 0; attempt < 400 && !locked; attempt++) {
      const socket = await open(server, '127.0.0.3');
      const answer = answerOf(socket);
      socket.write('POST /graphql HTTP/1.1\r\nhost: test\r\nauthorization: Credential 00\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}');
      locked = (await answer).status === 429;
      socket.destroy();
    }
    expect(locked).toBe(true);
    for (const [path, headers] of [
      ['/graphql', {}],
      ['/graphql', { authorization: `Credential ${server.users.customer.credential}` }],
      ['/api/ticket', {}],
      ['/uploads', { authorization: `Credential ${server.users.customer.credential}`, 'content-type': 'multipart/form-data; boundary=B' }],
    ] as Array<[string, Record<string, string>]>) {
      const answer = await held(server, '127.0.0.3', path, MB, '{"action": "list", ', headers);
      answer.socket.destroy();
      // A verified credential from the cache is not refused (the owner keeps working); a fresh one is.
      if (headers.authorization && path === '/graphql') {
        expect([0, 429]).toContain(answer.status);
        continue;
      }
      expect({ path, status: answer.status }).toEqual({ path, status: 429 });
      expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    // Other addresses are not affected.
    expect((await gql(server, server.users.customer, '{ me { id } }')).data?.me.id).toBe(String(server.users.customer.id));
  });

  describe('bytes in flight', () => {
    it('refuses a large body with 503 while others hold the budget, small ones still served, and takes it once they are gone', async () => {
      const first = keep(await held(server, '127.0.0.4', '/api/ticket', 3 * MB, '{"action": "permission-check", '));
      expect(first.status).toBe(0);
      const second = keep(await held(server, '127.0.0.4', '/api/ticket', 2 * MB, '{"action": '));
      expect(second.status).toBe(503);
      expect(second.headers['retry-after']).toBe('1');
      expect(JSON.parse(second.body)).toEqual({ code: 503, message: 'The server is receiving too many large requests right now; retry shortly' });
      // A chunked body counts at its route's limit: refused too.
      const socket = await open(server, '127.0.0.4');
      sockets.push(socket);
      const chunked = answerOf(socket);
      socket.write('POST /api/ticket HTTP/1.1\r\nhost: test\r\ntransfer-encoding: chunked\r\n\r\n');
      expect((await chunked).status).toBe(503);

      const small = await fetch(`${server.url}/api/ticket`, {
        method: 'POST',
        body: JSON.stringify({ action: 'permission-check', credential: server.users.customer.credential }),
      });
      expect(small.status).toBe(200);

      first.socket.destroy();
      // Its 3 MB come back when the server sees the connection go, which a loaded machine may run
      // after the next request arrives: a 503 meanwhile is sent again, for up to 5 s.
      const padded = JSON.stringify({ action: 'permission-check', credential: server.users.customer.credential, pad: 'x'.repeat(2 * MB) });
      const send = () => fetch(`${server.url}/api/ticket`, { method: 'POST', body: padded });
      let later = await send();
      for (const deadline = Date.now() + 5_000; later.status === 503 && Date.now() < deadline; later = await send()) {
        await later.arrayBuffer();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(later.status).toBe(200);
    });
  });

  describe('connections per client address', () => {
    it(`closes the ${CONNECTIONS_PER_ADDRESS + 1}th open connection from one address with 503, and takes new ones once some close`, async () => {
      const held: Socket[] = [];
      for (let index = 0; index < CONNECTIONS_PER_ADDRESS; index++) held.push(await open(server, '127.0.0.5'));
      sockets.push(...held);
      const extra = await open(server, '127.0.0.5');
      sockets.push(extra);
      const refused = await answerOf(extra);
      expect(refused.status).toBe(503);
      expect(refused.closed).toBe(true);
      expect(JSON.parse(refused.body)).toEqual({ code: 503, message: 'Too many connections from your address; close some and retry' });
      // Another address is served meanwhile.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

      held.shift()?.destroy();
      // The place is free once the server sees that connection go, which a loaded machine may run
      // after it accepts the next one: a refused one is tried again, for up to 5 s.
      const served = async () => {
        const next = await open(server, '127.0.0.5');
        sockets.push(next);
        const answer = answerOf(next);
        next.write('GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n');
        return (await answer).status;
      };
      let status = await served();
      for (const deadline = Date.now() + 5_000; status === 503 && Date.now() < deadline; status = await served()) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(status).toBe(200);
    });
  });

  describe('legacy multipart: no file is read before the credential is verified', () => {
    const boundary = 'SecurityBoundary';
    const textPart = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    const fileHead = `--${boundary}\r\nContent-Disposition: form-data; name="images"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n`;
    const multipart = { 'content-type': `multipart/form-data; boundary=${boundary}` };

    it('refuses a form whose file comes before the credential with 401, without reading the file', async () => {
      const start = Buffer.concat([Buffer.from(textPart('action', 'create-ticket') + fileHead), PNG_BYTES]);
      const answer = keep(await held(server, '127.0.0.6', '/api/ticket', 3 * MB, start, multipart));
      expect(answer.status).toBe(401);
      expect(answer.closed).toBe(true);
      expect(JSON.parse(answer.body)).toEqual({ code: 401, message: 'Send the credential field before any file in a multipart form' });
    });

    it('refuses a form whose credential is wrong with 401 at its first file, without reading the file', async () => {
      const wrong = server.credential('customer', 'not the password');
      const start = Buffer.concat([Buffer.from(textPart('action', 'create-ticket') + textPart('credential', wrong) + fileHead), PNG_BYTES]);
      const answer = keep(await held(server, '127.0.0.6', '/api/ticket', 3 * MB, start, multipart));
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.body)).toEqual({ code: 401, message: 'Invalid credential' });
    });

    it('reads a small form from a sender it does not know before refusing it, so fetch gets the 401, not a reset', async () => {
      const form = new FormData();
      form.append('action', 'create-ticket');
      for (let index = 0; index < 3; index++) form.append('images', new Blob([PNG_BYTES]), `image${index}.png`);
      form.append('credential', server.users.customer.credential);
      const response = await fetch(`${server.url}/api/ticket`, { method: 'POST', body: form });
      expect({ status: response.status, body: await response.json() }).toEqual({
        status: 401,
        body: { code: 401, message: 'Send the credential field before any file in a multipart form' },
      });
    });

    it('refuses a form with 64 KiB of fields before its credential', async () => {
      const start = textPart('action', 'create-ticket') + textPart('content', 'x'.repeat(64 * 1024)) + textPart('status', 'new');
      const answer = keep(await held(server, '127.0.0.6', '/api/ticket', 3 * MB, start, multipart));
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.body).message).toBe('Send the credential field before 65536 bytes of fields in a multipart form');
    });

    it('reads the rest of an authenticated form refused part-way, so fetch gets the 413 (one file too many), not a reset', async () => {
      // The 11th file is refused as its part begins, while fetch is still sending the form (a few
      // times: whether the close would catch it mid-write depends on timing).
      for (let attempt = 0; attempt < 3; attempt++) {
        const form = new FormData();
        form.append('action', 'create-ticket');
        form.append('credential', server.users.customer.credential);
        form.append('content', 'eleven images');
        for (let index = 0; index < 11; index++) form.append('images', new Blob([PNG_BYTES]), `image${index}.png`);
        const response = await fetch(`${server.url}/api/ticket`, { method: 'POST', body: form });
        expect({ status: response.status, body: await response.json() }).toEqual({
          status: 413,
          body: { code: 413, message: 'At most 10 images per request' },
        });
      }
    });

    it('files a ticket from a form whose credential comes first', async () => {
      const body = Buffer.concat([
        Buffer.from(
          textPart('action', 'create-ticket') + textPart('credential', server.users.customer.credential) + textPart('content', 'from a form') + fileHead,
        ),
        PNG_BYTES,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const response = await fetch(`${server.url}/api/ticket`, { method: 'POST', headers: multipart, body });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ uuid: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    });
  });
  describe("/uploads refused part-way: a stranger's body is not read, an authenticated sender's is, within bounds", () => {
    const boundary = 'UploadBoundary';
    const multipart = { 'content-type': `multipart/form-data; boundary=${boundary}` };
    const authorization = () => ({ authorization: `Credential ${server.users.customer.credential}` });
    const fileHead = (name: string) => `--${boundary}\r\nContent-Disposition: form-data; name="images"; filename="${name}"\r\nContent-Type: image/png\r\n\r\n`;
    /** A first file that is not an image (refused as soon as it is read), and the start of a second one. */
    const start = Buffer.from(`${fileHead('page.html')}<html>not an image</html>\r\n${fileHead('pad.png')}`);
    const notAnImage = { code: 400, message: 'images[0]: not a PNG, JPEG, GIF or WebP image' };
    /** The rest of the form after {@link start}: `padding` bytes of the second file, and the closing boundary. */
    const rest = (padding: number) => Buffer.concat([Buffer.alloc(padding, 1), Buffer.from(`\r\n--${boundary}--\r\n`)]);

    it('refuses a wrong Authorization header with 401 at once and closes, without reading the files', async () => {
      const wrong = `Credential ${server.credential('customer', 'not the password')}`;
      const answer = keep(await held(server, '127.0.0.7', '/uploads', 3 * MB, start, { ...multipart, authorization: wrong }));
      expect(answer.status).toBe(401);
      expect(answer.closed).toBe(true);
    });

    it('reads the rest of an authenticated upload refused at its first file, answers, and keeps the connection', async () => {
      const socket = keep({ socket: await open(server, '127.0.0.7') }).socket;
      const body = Buffer.concat([start, rest(256 * 1024)]);
      const head = Object.entries({ host: 'test', 'content-length': String(body.length), ...multipart, ...authorization() })
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('');
      const answer = answerOf(socket);
      socket.write(`POST /uploads HTTP/1.1\r\n${head}\r\n`);
      socket.write(body);
      const refused = await answer;
      expect({ status: refused.status, body: JSON.parse(refused.body), closed: refused.closed }).toEqual({ status: 400, body: notAnImage, closed: false });
      // Every byte of the body was read: the next request on the connection is understood.
      const next = answerOf(socket);
      socket.write('GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n');
      expect((await next).status).toBe(200);
    });

    it(`waits at most ${DRAIN_BEFORE_REFUSAL_MS} ms for the rest, holding its share of the bytes in flight meanwhile, then answers and closes`, async () => {
      const startedAt = Date.now();
      const draining = held(server, '127.0.0.8', '/uploads', 3 * MB, start, { ...multipart, ...authorization() });
      // While it drains, its 3 MB are still reserved: a 2 MB body does not fit the 4 MiB budget.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const other = keep(await held(server, '127.0.0.7', '/api/ticket', 2 * MB, '{"action": '));
      expect(other.status).toBe(503);
      const answer = keep(await draining);
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(DRAIN_BEFORE_REFUSAL_MS - 100);
      expect({ status: answer.status, body: JSON.parse(answer.body), closed: answer.closed }).toEqual({ status: 400, body: notAnImage, closed: true });
    });

    it(`reads at most ${DRAIN_BEFORE_REFUSAL_BYTES} bytes of the rest, then answers and closes`, async () => {
      const socket = keep({ socket: await open(server, '127.0.0.8') }).socket;
      const head = Object.entries({ host: 'test', 'content-length': String(3 * MB), ...multipart, ...authorization() })
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('');
      const answer = answerOf(socket);
      const startedAt = Date.now();
      socket.write(`POST /uploads HTTP/1.1\r\n${head}\r\n`);
      socket.write(start);
      socket.write(Buffer.alloc(2 * MB, 1));
      const refused = await answer;
      expect(refused.closed).toBe(true);
      // Cut off by bytes, not by the time bound.
      expect(Date.now() - startedAt).toBeLessThan(DRAIN_BEFORE_REFUSAL_MS);
      if (refused.status !== 0) expect(JSON.parse(refused.body)).toEqual(notAnImage);
    });

    it('reads the rest of an authenticated upload refused part-way, so fetch gets the 400, not a reset', async () => {
      const form = new FormData();
      form.append('images', new Blob(['<html>not an image</html>']), 'page.html');
      for (let index = 0; index < 5; index++) form.append('images', new Blob([PNG_BYTES, Buffer.alloc(64 * 1024, index)]), `image${index}.png`);
      const response = await fetch(`${server.url}/uploads`, { method: 'POST', headers: authorization(), body: form });
      expect({ status: response.status, body: await response.json() }).toEqual({ status: 400, body: notAnImage });
    });
  });
});
