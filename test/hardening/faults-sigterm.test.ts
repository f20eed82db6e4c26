import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { connect, EventStream, type Closed, type LiveClient } from '../support/live-client';
import { gqlOk } from '../support/http';
import { createPostgresDatabase, DATABASES } from '../support/server';
import { provisionCast, sleep, spawnServer, waitFor, type Cast, type ServerProcess } from '../support/faults';
import { scratchDir } from '../support/scratch';

/**
 * SIGTERM to the compiled server (`node main.js`) while requests are in flight and subscribers
 * are connected: every request already received completes successfully, what they committed is
 * delivered, the sockets close with 1001 (going away), and the process exits 0 within a bounded
 * time. A restart on the same database then serves all of it.
 */

/** Longest a graceful stop may take here (main's drain waits at most 10 s for requests). */
const SHUTDOWN_BOUND_MS = 15_000;
const SLOW_WRITES = 24;
const UPLOAD_BYTES = 4 * 1024 * 1024;

/** A PNG header (signature + IHDR) followed by random bytes: what the upload sniffing accepts. */
function pngOfSize(size: number): Buffer {
  const header = Buffer.from('89504e470d0a1a0a0000000d494844520000000100000001080600000000000000', 'hex');
  return Buffer.concat([header, randomBytes(size - header.length)]);
}

function multipart(file: Buffer): { body: Buffer; contentType: string } {
  const boundary = `----faults${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="images"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { body: Buffer.concat([head, file, tail]), contentType: `multipart/form-data; boundary=${boundary}` };
}

/**
 * A request whose headers and first bytes go out now and whose rest goes out on `finish`, in
 * chunks: the server has it in hand (routed, reading the body) when the signal arrives.
 */
class SlowRequest {
  readonly response: Promise<{ status: number; text: string }>;
  /** When the answer was complete (ms since the epoch). */
  readonly answeredAt: Promise<number>;
  private readonly request: ClientRequest;

  constructor(
    url: string,
    urlPath: string,
    headers: Record<string, string>,
    private readonly body: Buffer,
    private readonly firstBytes: number,
  ) {
    this.request = httpRequest(`${url}${urlPath}`, { method: 'POST', agent: false, headers: { ...headers, 'content-length': String(body.length) } });
    this.response = new Promise((resolve, reject) => {
      this.request.once('error', reject);
      this.request.once('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.once('error', reject);
      });
    });
    this.response.catch(() => undefined);
    this.answeredAt = this.response.then(
      () => Date.now(),
      () => NaN,
    );
    this.request.flushHeaders();
    this.request.write(body.subarray(0, firstBytes));
  }

  /** Sends the rest in `chunks` pieces, `intervalMs` apart. */
  async finish(chunks = 1, intervalMs = 0): Promise<void> {
    const rest = this.body.subarray(this.firstBytes);
    const size = Math.ceil(rest.length / chunks);
    for (let offset = 0; offset < rest.length; offset += size) {
      if (offset > 0 && intervalMs > 0) await sleep(intervalMs);
      this.request.write(rest.subarray(offset, offset + size));
    }
    this.request.end();
  }
}

describe.each(DATABASES)('SIGTERM with requests in flight and subscribers connected (%s)', (kind) => {
  let dataDir: string;
  let database: { url: string; drop: () => Promise<void> } | undefined;
  const key = randomBytes(32);
  let server: ServerProcess | undefined;
  const clients: LiveClient[] = [];

  beforeAll(async () => {
    dataDir = scratchDir('helpdesk-sigterm-');
    if (kind === 'postgres') database = await createPostgresDatabase();
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await server?.stop('SIGKILL');
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finishes in-flight requests, delivers their events, closes sockets with 1001 and exits 0', async () => {
    server = await spawnServer({ dataDir, databaseUrl: database?.url, credentialKey: key });
    const cast: Cast = await provisionCast(server.url, key);
    const { customer, scheduler } = cast;
    const running = server;

    // Subscribers: the scheduler sees every ticket, the customer their own.
    const watchers = [scheduler, customer, scheduler].map((user) => {
      const client = connect(running, user);
      clients.push(client);
      let closed: (Closed & { at: number }) | undefined;
      void client.closed.then((value) => (closed = { ...value, at: Date.now() }));
      return { client, stream: new EventStream(client.client), closedWith: () => closed };
    });
    await waitFor('the subscribers', async () => {
      await gqlOk(running, customer, 'mutation { createTicket(input: { content: "primer" }) { id } }');
      await sleep(100);
      return watchers.every(({ stream }) => stream.events.length > 0);
    });

    // In flight: a 4 MiB upload that will take about 1.5 s more, and writes half sent, through
    // both transports.
    const image = pngOfSize(UPLOAD_BYTES);
    const form = multipart(image);
    const upload = new SlowRequest(
      running.url,
      '/uploads',
      { 'content-type': form.contentType, authorization: `Credential ${customer.credential}` },
      form.body,
      64 * 1024,
    );
    const writes = Array.from({ length: SLOW_WRITES }, (_, index) => {
      const legacy = index % 2 === 0;
      const content = `in flight ${index}`;
      const body = Buffer.from(
        legacy
          ? JSON.stringify({ action: 'create-ticket', credential: customer.credential, content })
          : JSON.stringify({ query: 'mutation($content: String!) { createTicket(input: { content: $content }) { id } }', variables: { content } }),
      );
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (!legacy) headers.authorization = `Credential ${customer.credential}`;
      return { legacy, content, request: new SlowRequest(running.url, legacy ? '/api/ticket' : '/graphql', headers, body, Math.floor(body.length / 2)) };
    });
    // Let the server accept and route them all.
    await sleep(300);

    const signalled = Date.now();
    running.child.kill('SIGTERM');
    // The rest of the bodies arrive after the signal.
    await sleep(200);
    const uploadSent = upload.finish(30, 50);
    await Promise.all(writes.map(({ request }) => request.finish(2, 100)));
    await uploadSent;

    const exit = await Promise.race([running.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), SHUTDOWN_BOUND_MS).unref())]);
    const shutdownMs = Date.now() - signalled;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(shutdownMs).toBeLessThan(SHUTDOWN_BOUND_MS);

    // Every request in flight was answered with success.
    const uploaded = await upload.response;
    const lastAnsweredMs = Math.max(...(await Promise.all([upload, ...writes.map(({ request }) => request)].map(({ answeredAt }) => answeredAt)))) - signalled;
    expect(uploaded.status).toBe(201);
    const imageUrl = (JSON.parse(uploaded.text) as { urls: string[] }).urls[0];
    const ticketIds: string[] = [];
    for (const { legacy, request } of writes) {
      const { status, text } = await request.response;
      expect({ status, text: status === 200 ? 'ok' : text }).toEqual({ status: 200, text: 'ok' });
      const body = JSON.parse(text);
      if (legacy) ticketIds.push(body.uuid);
      else {
        // On failure, the server's warnings say why (a 5 s database timeout on a saturated machine, say).
        expect({ errors: body.errors, log: body.errors ? running.output() : undefined }).toEqual({ errors: undefined, log: undefined });
        ticketIds.push(body.data.createTicket.id);
      }
    }

    // Their events were delivered before the sockets closed, and the sockets closed with 1001.
    const socketsClosedMs = Math.max(...watchers.map(({ closedWith }) => closedWith()?.at ?? Infinity)) - signalled;
    for (const { stream, closedWith } of watchers) {
      expect(closedWith()).toMatchObject({ code: 1001 });
      const received = new Set(stream.events.map((event) => event.ticket.id));
      expect(ticketIds.filter((id) => !received.has(id))).toEqual([]);
    }
    console.log(
      `faults-sigterm (${kind}): ${SLOW_WRITES} writes and a ${UPLOAD_BYTES / 1024 / 1024} MiB upload in flight, all answered 2xx ` +
        `(last ${lastAnsweredMs} ms after SIGTERM); ${watchers.length} sockets closed 1001 (${socketsClosedMs} ms); exit 0 after ${shutdownMs} ms`,
    );

    // A restart on the same database serves what was written during the shutdown.
    server = await spawnServer({ dataDir, databaseUrl: database?.url, credentialKey: key });
    const restarted = server;
    const stored = await fetch(imageUrl.replace(/^https?:\/\/[^/]+/, restarted.url));
    expect(stored.status).toBe(200);
    expect(Buffer.from(await stored.arrayBuffer()).equals(image)).toBe(true);
    for (const id of ticketIds) {
      const data = await gqlOk(restarted, customer, 'query($id: ID!) { ticket(id: $id) { id content status } }', { id });
      expect(data.ticket).toMatchObject({ id, status: 'NEW' });
    }
    expect(await restarted.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 90_000);
});
