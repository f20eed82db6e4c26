import { DATABASES, startServer, type TestServer } from '../support/server';
import { errorCode, gql, gqlOk, GIF_BYTES, PNG_BYTES, upload } from '../support/http';

/**
 * Images end to end: `POST /uploads` checks bytes (never the declared type or name), limits size
 * and count, and answers absolute URLs that serve the same bytes back with their real type;
 * `createTicket`/`editTicket` take those URLs or inline `data:` URLs, and refuse someone else's
 * upload and more than ten images.
 */

/** 1×1 JPEG and lossless WebP, real files. */
const JPEG_BYTES = Buffer.from(
  '/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=',
  'base64',
);
const WEBP_BYTES = Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64');

const MiB = 1024 * 1024;
const dataUrl = (bytes: Buffer, type = 'image/png') => `data:${type};base64,${bytes.toString('base64')}`;
/** A PNG signature and IHDR followed by padding: sniffs as PNG, `size` bytes long. */
const pngOfSize = (size: number) => Buffer.concat([PNG_BYTES, Buffer.alloc(size - PNG_BYTES.length)]);

const CREATE = 'mutation($input: CreateTicketInput!) { createTicket(input: $input) { id images } }';

describe.each(DATABASES)('image uploads (%s)', (kind) => {
  let server: TestServer;
  const imageCount = async (): Promise<number> => {
    const rows = await server.app.database.orm.em.getConnection().execute<Array<{ n: number }>>('select count(*)::int as n from images');
    return Number(rows[0].n);
  };

  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server?.close());

  it('stores PNG, GIF, JPEG and WebP (201) and serves the same bytes back with their real type and nosniff', async () => {
    const files = [
      { bytes: PNG_BYTES, type: 'image/png', mime: 'image/png' },
      { bytes: GIF_BYTES, type: 'image/gif', mime: 'image/gif' },
      { bytes: JPEG_BYTES, type: 'image/jpeg', mime: 'image/jpeg' },
      { bytes: WEBP_BYTES, type: 'image/webp', mime: 'image/webp' },
      // The declared type and name are ignored: the bytes decide.
      { bytes: PNG_BYTES, type: 'text/html', name: 'page.html', mime: 'image/png' },
    ];
    const result = await upload(server, server.users.customer, files);
    expect(result.status).toBe(201);
    expect(result.body.urls).toHaveLength(files.length);
    for (const [i, url] of (result.body.urls as string[]).entries()) {
      expect(url).toMatch(new RegExp(`^${server.url}/images/[0-9a-f-]{36}$`));
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(files[i].mime);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(Buffer.from(await response.arrayBuffer()).equals(files[i].bytes)).toBe(true);
    }
  });

  it.each([
    ['text named .png and typed image/png', Buffer.from('definitely not a picture'), 'image/png'],
    ['HTML typed image/png', Buffer.from('<html><script>alert(1)</script></html>'), 'image/png'],
    ['a truncated PNG (signature only)', PNG_BYTES.subarray(0, 8), 'image/png'],
    ['an SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'image/svg+xml'],
    ['an empty file', Buffer.alloc(0), 'image/png'],
  ])('refuses %s with 400', async (_, bytes, type) => {
    const before = await imageCount();
    const result = await upload(server, server.users.customer, [{ bytes, type, name: 'cat.png' }]);
    expect(result.status).toBe(400);
    expect(result.body).toEqual({ code: 400, message: expect.stringMatching(/PNG, JPEG, GIF or WebP/) });
    expect(await imageCount()).toBe(before);
  });

  it('refuses the whole upload when one part is not an image, storing none of it', async () => {
    const before = await imageCount();
    const result = await upload(server, server.users.customer, [{ bytes: PNG_BYTES }, { bytes: Buffer.from('nope nope nope') }]);
    expect(result.status).toBe(400);
    expect(result.body.message).toMatch(/\[1\]/);
    expect(await imageCount()).toBe(before);
  });

  it('refuses an image over 10 MiB with 413', async () => {
    const result = await upload(server, server.users.customer, [{ bytes: pngOfSize(10 * MiB + 1), type: 'image/png' }]);
    expect(result.status).toBe(413);
    expect(result.body).toEqual({ code: 413, message: expect.stringMatching(/10 MiB/) });
  });

  it('accepts an image of exactly 10 MiB', async () => {
    const result = await upload(server, server.users.customer, [{ bytes: pngOfSize(10 * MiB), type: 'image/png' }]);
    // Not read back: 10 MiB through embedded PGlite takes seconds each way; the small images above are.
    expect(result.status).toBe(201);
    expect(result.body.urls).toHaveLength(1);
  });

  it('accepts ten images in one upload and refuses eleven with a clear 4xx', async () => {
    const ten = await upload(
      server,
      server.users.customer,
      Array.from({ length: 10 }, () => ({ bytes: GIF_BYTES })),
    );
    expect(ten.status).toBe(201);
    expect(ten.body.urls).toHaveLength(10);
    const before = await imageCount();
    const eleven = await upload(
      server,
      server.users.customer,
      Array.from({ length: 11 }, () => ({ bytes: GIF_BYTES })),
    );
    // @fastify/multipart's files limit answers first: 413 "At most 10 images per request".
    expect([400, 413]).toContain(eleven.status);
    expect(eleven.body).toEqual({ code: eleven.status, message: expect.stringMatching(/10 images/) });
    expect(await imageCount()).toBe(before);
  });

  it('needs a valid credential (401, one message)', async () => {
    const anonymous = await upload(server, null, [{ bytes: PNG_BYTES }]);
    expect(anonymous).toEqual({ status: 401, body: { code: 401, message: 'Invalid credential' } });
    const wrong = await upload(server, { credential: server.credential('customer', 'wrong password') }, [{ bytes: PNG_BYTES }]);
    expect(wrong).toEqual({ status: 401, body: { code: 401, message: 'Invalid credential' } });
  });

  it('refuses a body that is not multipart, or has no file parts, with 400', async () => {
    const json = await fetch(`${server.url}/uploads`, {
      method: 'POST',
      headers: { authorization: `Credential ${server.users.customer.credential}`, 'content-type': 'application/json' },
      body: JSON.stringify({ images: [PNG_BYTES.toString('base64')] }),
    });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { code: number }).code).toBe(400);
    const form = new FormData();
    form.append('note', 'no files here');
    const empty = await fetch(`${server.url}/uploads`, {
      method: 'POST',
      headers: { authorization: `Credential ${server.users.customer.credential}` },
      body: form,
    });
    expect(empty.status).toBe(400);
  });

  it('GET /images/<unknown or malformed id> is 404', async () => {
    expect((await fetch(`${server.url}/images/0190aaaa-0000-7000-8000-000000000000`)).status).toBe(404);
    expect((await fetch(`${server.url}/images/not-an-id`)).status).toBe(404);
  });

  it('createTicket lists uploaded URLs in order, and the ticket serves them', async () => {
    const { customer } = server.users;
    const { body } = await upload(server, customer, [{ bytes: GIF_BYTES }, { bytes: PNG_BYTES }]);
    const ticket = (await gqlOk(server, customer, CREATE, { input: { content: 'see pictures', images: body.urls } })).createTicket;
    expect(ticket.images).toEqual(body.urls);
    // A path-only reference, or one with an extension, names the same image.
    const path = new URL(body.urls[0]).pathname;
    const again = (await gqlOk(server, customer, CREATE, { input: { content: 'again', images: [path, `${body.urls[1]}.png`] } })).createTicket;
    expect(again.images).toEqual(body.urls);
  });

  it('createTicket takes an inline data: URL and stores it like an upload', async () => {
    const { customer } = server.users;
    const ticket = (
      await gqlOk(server, customer, CREATE, { input: { content: 'inline', images: [dataUrl(GIF_BYTES, 'image/gif'), dataUrl(WEBP_BYTES, 'image/png')] } })
    ).createTicket;
    expect(ticket.images).toHaveLength(2);
    const [gif, webp] = await Promise.all((ticket.images as string[]).map((url) => fetch(url)));
    expect(gif.headers.get('content-type')).toBe('image/gif');
    expect(Buffer.from(await gif.arrayBuffer()).equals(GIF_BYTES)).toBe(true);
    expect(webp.headers.get('content-type')).toBe('image/webp');
    await webp.arrayBuffer();
  });

  it.each([
    ['a data: URL of text', dataUrl(Buffer.from('hello, world'), 'image/png')],
    ['a data: URL without base64', 'data:image/png,hello'],
    ['a URL of another site', 'https://example.com/cat.png'],
    ['a URL of an image that does not exist', `http://127.0.0.1/images/0190aaaa-0000-7000-8000-000000000000`],
    ['plain text', 'my cat'],
  ])('createTicket refuses %s as BAD_USER_INPUT naming images[0]', async (_, image) => {
    const result = await gql(server, server.users.customer, CREATE, { input: { content: 'x', images: [image] } });
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0].extensions?.field).toBe('images[0]');
  });

  it("refuses another user's upload URL (BAD_USER_INPUT), on create and on edit", async () => {
    const { customer, otherCustomer } = server.users;
    const { body } = await upload(server, otherCustomer, [{ bytes: PNG_BYTES }]);
    const created = await gql(server, customer, CREATE, { input: { content: 'steal', images: body.urls } });
    expect(errorCode(created)).toBe('BAD_USER_INPUT');
    expect(created.errors?.[0].extensions?.field).toBe('images[0]');
    const own = (await gqlOk(server, customer, CREATE, { input: { content: 'mine' } })).createTicket;
    const edited = await gql(server, customer, 'mutation($id: ID!, $images: [String!]) { editTicket(id: $id, input: { images: $images }) { images } }', {
      id: own.id,
      images: body.urls,
    });
    expect(errorCode(edited)).toBe('BAD_USER_INPUT');
  });

  it('accepts ten images on a ticket and refuses eleven (BAD_USER_INPUT), on create and on edit', async () => {
    const { customer } = server.users;
    const { body } = await upload(
      server,
      customer,
      Array.from({ length: 10 }, () => ({ bytes: PNG_BYTES })),
    );
    const ten = (await gqlOk(server, customer, CREATE, { input: { content: 'ten', images: body.urls } })).createTicket;
    expect(ten.images).toEqual(body.urls);
    const elevenUrls = [...body.urls, dataUrl(GIF_BYTES)];
    const eleven = await gql(server, customer, CREATE, { input: { content: 'eleven', images: elevenUrls } });
    expect(errorCode(eleven)).toBe('BAD_USER_INPUT');
    expect(eleven.errors?.[0].extensions?.field).toBe('images');
    const edit = await gql(server, customer, 'mutation($id: ID!, $images: [String!]) { editTicket(id: $id, input: { images: $images }) { images } }', {
      id: ten.id,
      images: elevenUrls,
    });
    expect(errorCode(edit)).toBe('BAD_USER_INPUT');
    expect((await gqlOk(server, customer, 'query($id: ID!) { ticket(id: $id) { images } }', { id: ten.id })).ticket.images).toEqual(body.urls);
  });

  it('an inline image over 10 MiB is refused as too large, not a 500', async () => {
    const result = await gql(server, server.users.customer, CREATE, { input: { content: 'huge', images: [dataUrl(pngOfSize(10 * MiB + 1))] } });
    expect(result.status).toBeLessThan(500);
    expect(errorCode(result)).toBe('PAYLOAD_TOO_LARGE');
    expect(result.errors?.[0].message).toMatch(/10 MiB/);
  });
});
