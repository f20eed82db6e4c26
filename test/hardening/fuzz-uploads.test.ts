import fc from 'fast-check';
import { GIF_BYTES, PNG_BYTES } from '../support/http';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { badErrorBody, bounded, fingerprint, fingerprintChange, FuzzTally, junkJson, randomUuid } from '../support/fuzz';

/**
 * Generated uploads and image fetches against the real server, on each database: `POST /uploads`
 * with every kind of Authorization header, multipart forms of 0 to 12 parts of image bytes,
 * truncated images, junk and text, forms that are not well formed and bodies that are not forms;
 * `GET /images/:id` with ids of stored images, of nothing, and of junk.
 *
 * Never a 5xx, errors always `{code, message}`; a refused upload stores nothing (database
 * fingerprint unchanged); an accepted one answers one URL per file part, in order, and each URL
 * serves exactly the bytes sent, with the sniffed type, `nosniff` and a sandboxing CSP.
 */

const UPLOADS = { runs: 1000, ms: 6_000 };
const FETCHES = { runs: 2000, ms: 3_000 };

/** 431: Node's HTTP parser refuses headers over 16 KiB before any route sees them. */
const UPLOAD_STATUSES = new Set([201, 400, 401, 413, 415, 429, 431]);
const IMAGE_STATUSES = new Set([200, 400, 404, 405]);
/** Refused by Fastify's router before the route runs (an id longer than its parameter limit), in Fastify's shape. */
const ROUTER_STATUSES = new Set([414]);

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xd9]);
const WEBP = Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64');
const IMAGES = [PNG_BYTES, GIF_BYTES, JPEG, WEBP];

type Part =
  | { kind: 'image'; index: number; tail: Uint8Array }
  | { kind: 'truncated'; index: number; cut: number }
  | { kind: 'junk'; bytes: Uint8Array }
  | { kind: 'empty' }
  | { kind: 'text'; value: string };

const part: fc.Arbitrary<{ part: Part; field: string; filename: string; type: string }> = fc.record({
  part: fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('image' as const), index: fc.nat(IMAGES.length - 1), tail: fc.uint8Array({ maxLength: 32 }) }), weight: 6 },
    { arbitrary: fc.record({ kind: fc.constant('truncated' as const), index: fc.nat(IMAGES.length - 1), cut: fc.nat(40) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('junk' as const), bytes: fc.uint8Array({ maxLength: 200 }) }), weight: 1 },
    { arbitrary: fc.constant({ kind: 'empty' as const }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('text' as const), value: fc.string({ maxLength: 40 }) }), weight: 1 },
  ),
  field: fc.constantFrom('images', 'file', 'images[]', 'x', '', '__proto__', 'é'),
  filename: fc.constantFrom('a.png', 'a.exe', '', '../../etc/passwd', 'a\u0000.png', '😀.gif'),
  type: fc.constantFrom('image/png', 'application/octet-stream', 'text/html', 'image/svg+xml', ''),
});

type Authorization = { kind: 'user'; name: keyof TestServer['users'] } | { kind: 'raw'; value: string } | { kind: 'none' };
const authorization: fc.Arbitrary<Authorization> = fc.oneof(
  {
    arbitrary: fc
      .constantFrom('customer', 'staff', 'scheduler', 'otherCustomer')
      .map((name) => ({ kind: 'user' as const, name: name as keyof TestServer['users'] })),
    weight: 6,
  },
  {
    arbitrary: fc
      .oneof(
        fc.constantFrom(
          'Credential',
          'Credential ',
          'Bearer abc',
          'Basic dXNlcjpwYXNz',
          'credential 00',
          'Credential zz',
          'Credential a b',
          `Credential ${'0'.repeat(20_000)}`,
        ),
        fc.stringMatching(/^[\x21-\x7e ]{0,80}$/),
      )
      .map((value) => ({ kind: 'raw' as const, value })),
    weight: 2,
  },
  { arbitrary: fc.constant({ kind: 'none' as const }), weight: 1 },
);

type Body = { kind: 'form'; parts: Array<{ part: Part; field: string; filename: string; type: string }> } | { kind: 'raw'; contentType: string; text: string };
const body: fc.Arbitrary<Body> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('form' as const), parts: fc.array(part, { maxLength: 12 }) }), weight: 8 },
  {
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      contentType: fc.constantFrom(
        'multipart/form-data',
        'multipart/form-data; boundary=xyz',
        'multipart/form-data; boundary=',
        'application/json',
        'text/plain',
        'image/png',
        '',
      ),
      text: fc.oneof(
        fc.string({ maxLength: 200 }),
        junkJson.map((value) => JSON.stringify(value) ?? ''),
        fc.constantFrom(
          '--xyz\r\nContent-Disposition: form-data; name="images"; filename="a.png"\r\n\r\n\x89PNG',
          '--xyz--',
          '--xyz\r\n\r\n--xyz--\r\n',
          '--xyz\r\nContent-Disposition: form-data\r\n\r\nx\r\n--xyz--\r\n',
        ),
      ),
    }),
    weight: 2,
  },
);

describe.each(DATABASES)('hostile uploads and image URLs (%s)', (kind) => {
  let server: TestServer;
  const tally = new FuzzTally();
  /** Stored images: id and the exact bytes uploaded. */
  const stored: Array<{ url: string; bytes: Buffer }> = [];

  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(async () => {
    console.log(tally.summary(kind));
    await server?.close();
  });

  const bytesOf = (each: Part): Buffer | undefined => {
    switch (each.kind) {
      case 'image':
        return Buffer.concat([IMAGES[each.index], each.tail]);
      case 'truncated':
        return IMAGES[each.index].subarray(0, each.cut % IMAGES[each.index].length);
      case 'junk':
        return Buffer.from(each.bytes);
      case 'empty':
        return Buffer.alloc(0);
      default:
        return undefined;
    }
  };

  it('answers every generated upload with a docs/contract.md status and shape; refused uploads store nothing; stored images come back byte for byte', async () => {
    let before = await fingerprint(server);
    await fc.assert(
      fc.asyncProperty(authorization, body, async (auth, generated) => {
        const headers: Record<string, string> = {};
        if (auth.kind === 'user') headers.authorization = `Credential ${server.users[auth.name].credential}`;
        if (auth.kind === 'raw') headers.authorization = auth.value;
        let payload: Buffer | string;
        const files: Buffer[] = [];
        if (generated.kind === 'form') {
          const form = new FormData();
          const sent: Buffer[] = [];
          for (const { part: each, field, filename, type } of generated.parts) {
            const bytes = bytesOf(each);
            if (bytes === undefined) {
              form.append(field, (each as { value: string }).value);
            } else {
              form.append(field, new Blob([bytes], type ? { type } : {}), filename);
              sent.push(bytes);
            }
          }
          // Serialized here, so the test knows which parts went out as file parts (a part whose file
          // name is empty goes out without one, and may then be a plain text field /uploads ignores).
          const request = new Request('http://x/', { method: 'POST', body: form });
          payload = Buffer.from(await request.arrayBuffer());
          headers['content-type'] = request.headers.get('content-type') as string;
          const boundary = headers['content-type'].split('boundary=')[1];
          const partHeaders = payload
            .toString('latin1')
            .split(`--${boundary}\r\n`)
            .slice(1)
            .map((chunk) => chunk.slice(0, chunk.indexOf('\r\n\r\n')));
          let blob = 0;
          for (const [index, { part: each }] of generated.parts.entries()) {
            if (bytesOf(each) === undefined) continue;
            // @fastify/busboy's rule: a part with a file name, or of type application/octet-stream.
            const header = partHeaders[index] ?? '';
            if (/; filename=/.test(header) || /\r\ncontent-type: application\/octet-stream/i.test(header)) files.push(sent[blob]);
            blob += 1;
          }
        } else {
          payload = generated.text;
          if (generated.contentType) headers['content-type'] = generated.contentType;
        }
        const response = await fetch(`${server.url}/uploads`, { method: 'POST', headers, body: payload, signal: AbortSignal.timeout(20_000) });
        const text = await response.text();
        const status = response.status;
        let problem = UPLOAD_STATUSES.has(status) ? undefined : `status ${status}`;
        if (!problem && status !== 201 && status !== 431) problem = badErrorBody(status, text);
        if (!problem && status === 201) {
          const { urls } = JSON.parse(text) as { urls: string[] };
          if (auth.kind !== 'user') problem = 'stored without a valid credential';
          else if (urls.length !== files.length) problem = `${urls.length} URLs for ${files.length} file parts`;
          else urls.forEach((url, index) => stored.push({ url, bytes: files[index] }));
        }
        tally.record('uploads', status, problem);
        if (problem) throw new Error(`${problem}: ${text.slice(0, 300)}`);
        const after = await fingerprint(server);
        const change = status === 201 ? undefined : fingerprintChange(before, after);
        if (change) throw new Error(`a refused upload changed the database (${change}): ${status} ${text.slice(0, 300)}`);
        before = after;
      }),
      { ...bounded(UPLOADS.runs, UPLOADS.ms), endOnFailure: true },
    );
    expect(tally.fivexx('uploads')).toBe(0);
    // Every image stored comes back as sent, typed by its bytes and never sniffable into a page.
    for (const { url, bytes } of stored.slice(0, 200)) {
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
      expect(response.headers.get('content-type')).toMatch(/^image\/(png|gif|jpeg|webp)$/);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('content-security-policy')).toMatch(/sandbox/);
    }
  }, 60_000);

  it('refuses an image over 10 MiB with 413 and stores nothing', async () => {
    const before = await fingerprint(server);
    const form = new FormData();
    form.append('images', new Blob([Buffer.concat([PNG_BYTES, Buffer.alloc(10 * 1024 * 1024)])]), 'big.png');
    const response = await fetch(`${server.url}/uploads`, {
      method: 'POST',
      headers: { authorization: `Credential ${server.users.customer.credential}` },
      body: form,
    });
    expect(response.status).toBe(413);
    expect(badErrorBody(413, await response.text())).toBeUndefined();
    expect(await fingerprint(server)).toEqual(before);
  });

  it('answers generated image URLs with the image, 404 or 4xx, never a 5xx', async () => {
    const id = fc.oneof(
      {
        arbitrary: fc.nat().map((index) => ({ known: true, path: stored.length ? stored[index % stored.length].url.split('/images/')[1] : 'none' })),
        weight: 3,
      },
      {
        arbitrary: fc
          .oneof(
            randomUuid,
            randomUuid.map((uuid) => `${uuid}.png`),
            randomUuid.map((uuid) => `${uuid}.${'x'.repeat(11)}`),
            fc.string({ maxLength: 60 }).map(encodeURIComponent),
            fc.constantFrom('', '..', '%2e%2e%2fetc%2fpasswd', '%00', 'x'.repeat(5000), '00000000-0000-0000-0000-000000000000', '%E0%A4%A', '😀', '?', '#'),
          )
          .map((path) => ({ known: false, path })),
        weight: 3,
      },
    );
    await fc.assert(
      fc.asyncProperty(id, fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'DELETE'), async ({ known, path }, method) => {
        const url = new URL(`${server.url}/images/${path}`);
        // `..` and friends resolve to another route (Fastify's own 404 shape): only /images/:id owes {code, message}.
        const imageRoute = /^\/images\/[^/]+$/.test(url.pathname);
        const response = await fetch(url, { method, signal: AbortSignal.timeout(20_000) });
        const text = method === 'HEAD' ? '' : await response.text();
        const status = response.status;
        let problem = status >= 500 ? `status ${status}` : undefined;
        if (!problem && known && (method === 'GET' || method === 'HEAD') && status !== 200) problem = `a stored image answered ${status}`;
        // A path that resolves out of /images/ (`..` is `/`, the board's page) is another route's answer.
        if (!problem && !known && url.pathname.startsWith('/images/') && status === 200) problem = `an unknown id ${path} answered 200`;
        // Fastify refuses a URL it cannot decode before routing, in its own shape (code FST_ERR_BAD_URL).
        const routerRefusal = ROUTER_STATUSES.has(status) || /"code":"FST_ERR_BAD_URL"/.test(text);
        if (!problem && method === 'GET' && imageRoute && status !== 200 && !routerRefusal) {
          problem = IMAGE_STATUSES.has(status) ? badErrorBody(status, text) : `status ${status}`;
        }
        if (!problem && /\n\s+at |\.ts:\d+|node_modules/.test(text)) problem = `stack trace in the body: ${text.slice(0, 200)}`;
        tally.record('images', status, problem);
        if (problem) throw new Error(`${method} /images/${path.slice(0, 80)}: ${problem}`);
      }),
      { ...bounded(FETCHES.runs, FETCHES.ms), endOnFailure: true },
    );
    expect(tally.fivexx('images')).toBe(0);
  }, 60_000);
});
